"""The fake Stripe's side of webhook delivery: recorded events (rendered by `views_stripe` on the first
attempt, the bytes then kept), signed per attempt with `Stripe-Signature`, posted by the engine's
`Sender` to the webhook URL PayKit registered (the emulator's own `POST /api/v1/webhook`). Hosted pages
and the control API `flush` the sender so a redirect happens after the webhook landed. HTTP layer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from aiohttp import web

from ...engine.delivery import AttemptOutcome, Post, SenderSlot, sender_context
from ...engine.product import Transition
from ...engine.structs import struct
from ...engine.world import World
from . import signing
from .domain import outbox
from .domain.webhook import secret_for
from .models import StripeEvent
from .state import PayKitState
from .views_stripe import render_event_payload

PRODUCT_NAME = "paykit"
ATTEMPT_TIMEOUT = 30
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@struct(frozen=True, kw_only=True)
class StripeAttempt(Transition):
    """One POST of a Stripe event to its webhook URL, and where it left the event."""

    event_id: str
    event_type: str
    status_code: int | None
    delivery_status: str


class StripeOutbox:
    """The pending events of the fake Stripe (`domain.outbox` marks those being sent). An attempt is made
    as of its due instant on a clock move, else now, and signed with that timestamp."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def next_due(self, state: PayKitState, busy: Collection[str]) -> datetime | None:
        return outbox.next_due(state)

    def take_due(self, state: PayKitState, at: datetime, busy: Collection[str]) -> list[StripeEvent]:
        return outbox.take_due(state, at)

    def key(self, event: StripeEvent) -> str:
        return event.id

    def prepare(self, state: PayKitState, event: StripeEvent, at: datetime) -> Post:
        now = max(at, self._now())
        payload = serialised(event)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "Stripe-Signature": signing.header(payload, secret_for(state, event.project_id),
                                                      int(now.timestamp()))}
        return Post(url=event.url, body=payload, headers=headers, at=now, timeout=ATTEMPT_TIMEOUT, endpoint=event.url,
                    follow_redirects=True)

    def record(self, state: PayKitState, event: StripeEvent, at: datetime,
               outcome: AttemptOutcome | None) -> StripeAttempt:
        status, body = _answer(outcome) if outcome is not None else (None, "")
        outbox.finish(state, event, at, status, body)
        return StripeAttempt(kind="paykit.stripe_event.attempt", at=at, event_id=event.id, event_type=event.type,
                             status_code=status, delivery_status=event.status)


def _answer(outcome: AttemptOutcome) -> tuple[int | None, str]:
    """The status and the text kept of an attempt: the answer's body, or what went wrong."""
    match outcome.failure:
        case None:
            try:
                return outcome.status, outcome.body.decode(outcome.encoding)
            except (UnicodeDecodeError, LookupError) as exc:
                return None, f"{type(exc).__name__}: {exc}"
        case "silent":
            return None, "TimeoutError: no answer (the URL left an earlier attempt of this clock move unanswered)"
        case "cut":
            return None, "TimeoutError: no answer by the clock move's deadline"
        case _:
            return None, outcome.detail


def serialised(event: StripeEvent) -> bytes:
    """The event's bytes: rendered from its snapshot on the first attempt, then kept, so every attempt (a
    redelivery too) signs and posts exactly the same bytes."""
    if event.payload is None:
        event.payload = render_event_payload(event)
    return event.payload


def _outbox(world: World) -> StripeOutbox:
    return StripeOutbox(world.now)


SENDER_KEY = web.AppKey("paykit_stripe_sender", SenderSlot)


def setup(app: web.Application) -> None:
    app[SENDER_KEY] = SenderSlot()
    app.cleanup_ctx.append(sender_context(PRODUCT_NAME, _outbox, name="paykit-stripe", slot=SENDER_KEY))


async def flush(app: web.Application, state: PayKitState) -> None:
    """Deliver what is due now and wait for it; a no-op when the app runs no sender."""
    sender = app[SENDER_KEY].sender
    if sender is not None:
        await sender.flush(state)
