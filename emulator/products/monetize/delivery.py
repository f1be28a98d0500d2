"""Monetize's side of webhook delivery: the outbox (`webhooks.py`) as the engine's `Sender` sees it
(which deliveries are due, one attempt's signed request, recording its outcome), and the cleanup_ctx
entry that runs the sender for the app (`delivery_context`). HTTP layer; imports no handlers.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ...engine.delivery import AttemptOutcome, Post, describe, sender_context
from ...engine.world import World
from .models import DeliveryAttempt, WebhookDelivery
from .state import PRODUCT_NAME, Store
from .webhooks import (
    WebhookAttempt,
    attempted,
    begin_attempt,
    collect,
    delivery_log,
    due_deliveries,
    next_attempt_at,
    record_attempt,
    request_headers,
)


class MonetizeOutbox:
    """The deliveries of `store.webhook_log`, each attempt signed with its endpoint's secret."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def next_due(self, store: Store, busy: Collection[str]) -> datetime | None:
        return next_attempt_at(collect(store), busy)

    def take_due(self, store: Store, at: datetime, busy: Collection[str]) -> list[WebhookDelivery]:
        return due_deliveries(collect(store), at, busy)

    def key(self, delivery: WebhookDelivery) -> str:
        return delivery.id

    def prepare(self, store: Store, delivery: WebhookDelivery, at: datetime) -> Post | None:
        endpoint = begin_attempt(store, delivery_log(store), delivery, at)
        if endpoint is None:  # deleted meanwhile: the delivery was given up
            return None
        return Post(url=delivery.url, body=delivery.body, headers=request_headers(delivery, endpoint.secret), at=at,
                    timeout=self.timeout, endpoint=endpoint.id)

    def record(self, store: Store, delivery: WebhookDelivery, at: datetime,
               outcome: AttemptOutcome | None) -> WebhookAttempt:
        if outcome is not None:
            record_attempt(delivery_log(store), delivery,
                           DeliveryAttempt(at=at, status_code=outcome.status, error=describe(outcome),
                                           duration_ms=outcome.duration_ms))
        return attempted(delivery, at)


def _outbox(world: World) -> MonetizeOutbox:
    return MonetizeOutbox(world.config.webhook_timeout)


# cleanup_ctx: one HTTP client session and one sender per app, registered as a due source.
delivery_context = sender_context(PRODUCT_NAME, _outbox, name="webhook")
