"""Paywalls.ai's side of webhook delivery: each due attempt rendered with the exact bytes it signs
(`views.render_delivery_body`, `signing.delivery_headers`) for the engine's `Sender`, and reported back
to the pure scheme (`domain.webhooks.record_attempt`), which decides success, retry or error. HTTP layer.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ...engine.delivery import AttemptOutcome, Post, describe, sender_context
from ...engine.product import Transition
from ...engine.structs import struct
from ...engine.world import World
from .domain import webhooks
from .models import Delivery, DeliveryStatus
from .signing import delivery_headers
from .state import PRODUCT_NAME, PaywallsState
from .views import render_delivery_body

TIMEOUT_SECONDS = 10.0


@struct(frozen=True, kw_only=True)
class PaywallsWebhookAttempt(Transition):
    """A Paywalls.ai delivery attempt run while time moved, and where it left the delivery."""

    delivery_id: str
    event_type: str
    status_code: int | None
    error: str | None
    delivery_status: DeliveryStatus


class PaywallsOutbox:
    """The pending deliveries of the state, each attempt posted to its subscription's URL."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    def next_due(self, state: PaywallsState, busy: Collection[str]) -> datetime | None:
        return min((d.next_attempt_at for d in state.pending_deliveries()
                    if d.next_attempt_at is not None and d.id not in busy), default=None)

    def take_due(self, state: PaywallsState, at: datetime, busy: Collection[str]) -> list[Delivery]:
        return [d for d in webhooks.due(state, at) if d.id not in busy]

    def key(self, delivery: Delivery) -> str:
        return delivery.id

    def prepare(self, state: PaywallsState, delivery: Delivery, at: datetime) -> Post:
        subscription = state.subscriptions[delivery.subscription_id]
        event = state.events_by_id[delivery.event_id]
        body = render_delivery_body(delivery, event, attempt=len(delivery.attempts) + 1, at=at)
        headers = delivery_headers(event_type=event.type, secret=subscription.secret, body=body, at=at,
                                   custom=subscription.custom_headers)
        return Post(url=subscription.url, body=body, headers=headers, at=at, timeout=self.timeout,
                    endpoint=subscription.id)

    def record(self, state: PaywallsState, delivery: Delivery, at: datetime,
               outcome: AttemptOutcome | None) -> PaywallsWebhookAttempt:
        status = outcome.status if outcome is not None else None
        error = describe(outcome) if outcome is not None else None
        webhooks.record_attempt(state, delivery, at=at, status_code=status, error=error)
        return PaywallsWebhookAttempt(kind="paywalls-ai.webhook.attempt", at=at, delivery_id=delivery.id,
                                      event_type=delivery.event_type, status_code=status, error=error,
                                      delivery_status=delivery.status)


def _outbox(world: World) -> PaywallsOutbox:
    return PaywallsOutbox(world.config.webhook_timeout)


# cleanup_ctx: one HTTP client session and one sender per app, registered as a due source.
delivery_context = sender_context(PRODUCT_NAME, _outbox, name="paywalls-ai-webhooks")
