"""Domain events: the business facts webhooks are made of.

`emit` snapshots the affected objects into a `DomainEvent` and appends it to the store's event log,
the outbox the webhook layer delivers from. The snapshot is the webhook `data` wire shape, taken at the
instant of the event (a queued delivery must not change when its objects do later): the one documented
domain import of `views` (`render_webhook_data`, pure, entities in). No aiohttp.
"""

from __future__ import annotations

from datetime import datetime

from ..models import DomainEvent, Payment, Refund, Subscription
from ..state import Store
from ..views import render_webhook_data

EVENT_TYPES = ("payment.completed", "subscription.created", "subscription.updated",
               "subscription.cancelled", "refund.created")


def emit(store: Store, now: datetime, event_type: str, *, paywall_id: str, user_id: str, price_id: str,
         subscription: Subscription | None = None, payment: Payment | None = None,
         refund: Refund | None = None) -> DomainEvent:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    paywall = store.paywalls[paywall_id]
    data = render_webhook_data(store, paywall, store.users[user_id], store.prices[price_id],
                               subscription=subscription, payment=payment, refund=refund)
    event = DomainEvent(
        id=f"evt_{int(now.timestamp() * 1000)}_{store.ids.alnum(12)}", type=event_type,
        owner_id=paywall.owner_id, paywall_id=paywall_id, created_at=now, data=data,
        subject=subscription.id if subscription else (payment.id if payment else ""),
    )
    return store.record_event(event)
