"""The fake Stripe's outbox rules: which recorded events are due for an attempt, and what an attempt's
answer does (2xx delivers; anything else retries after 1 min, 5 min, 30 min, 2 h, then gives up, on the
emulator clock). The HTTP itself lives in `delivery`. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import refuse
from ..models import DeliveryAttempt, StripeEvent
from ..state import PayKitState

RETRIES: tuple[timedelta, ...] = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                                  timedelta(hours=2))
MAX_BODY = 2000  # characters of an answer kept per attempt


def next_due(state: PayKitState) -> datetime | None:
    return min((e.next_attempt_at for e in state.pending.values() if not e.sending), default=None)


def take_due(state: PayKitState, at: datetime) -> list[StripeEvent]:
    """The events due at `at`, oldest first, marked as being sent (so no second attempt starts)."""
    due = [e for e in state.pending.values() if not e.sending and e.next_attempt_at <= at]
    for event in due:
        event.sending = True
    return due


def finish(state: PayKitState, event: StripeEvent, at: datetime, status: int | None, body: str) -> None:
    event.sending = False
    event.attempts.append(DeliveryAttempt(at=at, status=status, body=body[:MAX_BODY]))
    if status is not None and 200 <= status < 300:
        event.status = "delivered"
        state.pending.pop(event.id, None)
        return
    failures = len(event.attempts)
    if failures > len(RETRIES):
        event.status = "failed"
        state.pending.pop(event.id, None)
    else:
        event.next_attempt_at = at + RETRIES[failures - 1]


def redeliver(state: PayKitState, event_id: str, at: datetime) -> StripeEvent:
    """Queue one more attempt now, whatever happened before (a test resends an event); 404 if unknown."""
    event = state.events.get(event_id)
    if event is None:
        raise refuse(404, f"No such event: {event_id}")
    event.status = "pending"
    event.next_attempt_at = at
    state.pending[event.id] = event
    return event
