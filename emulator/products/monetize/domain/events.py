"""Domain events: the business facts webhooks are made of.

`emit` copies the affected objects into an `EventSnapshot` (what they were at the instant of the
event: a queued delivery must not change when they do later) and appends the `DomainEvent` to the
store's event log, the outbox the webhook layer delivers from; views render the snapshot. No aiohttp.
"""

from __future__ import annotations

import copy
from datetime import datetime

from ..models import DomainEvent, EventSnapshot, Payment, Refund, Subscription
from ..state import Store

EVENT_TYPES = ("payment.completed", "subscription.created", "subscription.updated",
               "subscription.cancelled", "refund.created")


def emit(store: Store, now: datetime, event_type: str, *, paywall_id: str, user_id: str, price_id: str,
         subscription: Subscription | None = None, payment: Payment | None = None,
         refund: Refund | None = None) -> DomainEvent:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    paywall = store.paywalls[paywall_id]
    link = store.link(user_id, paywall_id)
    snapshot = EventSnapshot(
        paywall_id=paywall.id, acquirer=paywall.acquirer, price=copy.copy(store.prices[price_id]),
        user=copy.copy(store.users[user_id]), user_meta=copy.deepcopy(link.meta) if link else {},
        subscription=copy.copy(subscription), payment=copy.copy(payment), refund=copy.copy(refund))
    event = DomainEvent(
        id=f"evt_{int(now.timestamp() * 1000)}_{store.ids.alnum(12)}", type=event_type,
        owner_id=paywall.owner_id, paywall_id=paywall_id, created_at=now, data=snapshot,
        subject=subscription.id if subscription else (payment.id if payment else ""),
    )
    return store.record_event(event)
