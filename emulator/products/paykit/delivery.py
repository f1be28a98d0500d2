"""The fake Stripe's HTTP side: posting recorded events (rendered by `views_stripe` on the first attempt,
the bytes then kept), signed per attempt with `Stripe-Signature`, to the webhook URL PayKit registered
(the emulator's own `POST /api/v1/webhook`). `StripeDispatcher` is a background due source (driven inline
by clock moves, within the move's shared deadline) with a worker task for real time; hosted pages and the
control API `flush` it so a redirect happens after the webhook landed. HTTP layer: aiohttp client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from ...engine.clock import monotonic
from ...engine.keys import WORLD_KEY
from ...engine.moves import wait_or_cut
from ...engine.product import Transition
from ...engine.world import World
from . import signing
from .domain import outbox
from .domain.webhook import secret_for
from .models import StripeEvent
from .state import PayKitState
from .views_stripe import render_event_payload

log = logging.getLogger("paywall_emulator.paykit")

PRODUCT_NAME = "paykit"
POLL_SECONDS = 0.05
ATTEMPT_TIMEOUT = 30
LATE_GRACE_SECONDS = 1.0  # past a clock move's deadline: what a URL not yet silent in the move may take
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass(frozen=True, slots=True, kw_only=True)
class StripeAttempt(Transition):
    """One POST of a Stripe event to its webhook URL, and where it left the event."""

    event_id: str
    event_type: str
    status_code: int | None
    delivery_status: str


class StripeDispatcher:
    """Sends due events; an event is never attempted twice at once. Attempts run as tasks, so `run_due`
    (a clock move, a flush) waits for attempts the worker started too. A clock move waits for them
    until its shared deadline (`World.move_deadline`): an attempt unanswered then is recorded as a
    timeout at its own instant, and later attempts of the move to that URL without waiting."""

    background = True

    def __init__(self, world: World, session: aiohttp.ClientSession) -> None:
        self.world = world
        self.session = session
        self._inflight: dict[str, tuple[datetime, asyncio.Task[StripeAttempt]]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._cutting: set[str] = set()  # events whose attempt the move's deadline is cutting
        self._silent: tuple[float | None, set[str]] = (None, set())  # a move's deadline, URLs that hung in it

    def next_due(self, state: PayKitState) -> datetime | None:
        times = [started for started, _ in self._inflight.values()]
        upcoming = outbox.next_due(state)
        return min([*times, upcoming] if upcoming is not None else times, default=None)

    async def run_due(self, state: PayKitState, at: datetime) -> Sequence[Transition]:
        for event in outbox.take_due(state, at):
            self._start(event, state, at)
        tasks = [task for started, task in self._inflight.values() if started <= at]
        if not tasks:
            return []
        deadline = self.world.move_deadline
        if deadline is not None:
            deadline = max(deadline, monotonic() + min(LATE_GRACE_SECONDS, self.world.config.webhook_timeout))
        await wait_or_cut(tasks, deadline, self._cut)
        return [t.result() for t in tasks if not t.cancelled() and t.exception() is None]

    def _cut(self, task: asyncio.Task[Any]) -> None:
        for key, (_, running) in self._inflight.items():
            if running is task:
                self._cutting.add(key)
                task.cancel()

    def _silent_urls(self) -> set[str]:
        if self._silent[0] != self.world.move_deadline:
            self._silent = (self.world.move_deadline, set())
        return self._silent[1]

    async def flush(self, state: PayKitState) -> None:
        """Deliver everything due now and wait for it (hosted pages redirect after the ledger changed)."""
        await self.run_due(state, self.world.now())

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="paykit-stripe-worker")

    async def close(self) -> None:
        self._closing = True
        tasks: list[asyncio.Task[Any]] = [task for _, task in self._inflight.values()]
        if self._worker is not None:
            tasks.append(self._worker)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()

    async def _run(self) -> None:
        while not self._closing:
            try:
                state = self.world.states.get(PRODUCT_NAME)
                if isinstance(state, PayKitState):
                    now = self.world.now()
                    for event in outbox.take_due(state, now):
                        self._start(event, state, now)
            except Exception:  # a bug must not end delivery for the app's lifetime
                log.exception("the PayKit Stripe worker hit an unexpected error")
            await asyncio.sleep(POLL_SECONDS)

    def _start(self, event: StripeEvent, state: PayKitState, at: datetime) -> None:
        task = asyncio.create_task(self._attempt(event, state, at), name=f"stripe {event.id}")
        self._inflight[event.id] = (at, task)
        task.add_done_callback(lambda _: self._inflight.pop(event.id, None))

    async def _attempt(self, event: StripeEvent, state: PayKitState, at: datetime) -> StripeAttempt:
        """One attempt as of `at` (its due instant on a clock move, else now): signed with that timestamp,
        recorded at it."""
        now = max(at, self.world.now())
        payload = serialised(event)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "Stripe-Signature": signing.header(payload, secret_for(state, event.project_id),
                                                      int(now.timestamp()))}
        status: int | None = None
        if self.world.move_deadline is not None and event.url in self._silent_urls():
            body = "TimeoutError: no answer (the URL left an earlier attempt of this clock move unanswered)"
        else:
            try:
                async with self.session.post(event.url, data=payload, headers=headers,
                                             timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT)) as resp:
                    status, body = resp.status, await resp.text()
            except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError) as exc:
                body = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, TimeoutError) and self.world.move_deadline is not None:
                    self._silent_urls().add(event.url)
            except asyncio.CancelledError:
                if event.id not in self._cutting:
                    raise
                self._cutting.discard(event.id)
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()  # the deadline's cut, not the app closing
                self._silent_urls().add(event.url)
                body = "TimeoutError: no answer by the clock move's deadline"
        outbox.finish(state, event, now, status, body)
        return StripeAttempt(kind="paykit.stripe_event.attempt", at=now, event_id=event.id, event_type=event.type,
                             status_code=status, delivery_status=event.status)


def serialised(event: StripeEvent) -> bytes:
    """The event's bytes: rendered from its snapshot on the first attempt, then kept, so every attempt (a
    redelivery too) signs and posts exactly the same bytes."""
    if event.payload is None:
        event.payload = render_event_payload(event)
    return event.payload


class DispatcherSlot:
    """Where handlers find the app's dispatcher: set before the app starts, filled by the cleanup_ctx."""

    __slots__ = ("dispatcher",)

    def __init__(self) -> None:
        self.dispatcher: StripeDispatcher | None = None


DISPATCHER_KEY = web.AppKey("paykit_stripe_dispatcher", DispatcherSlot)


def setup(app: web.Application) -> None:
    app[DISPATCHER_KEY] = DispatcherSlot()
    app.cleanup_ctx.append(delivery_context)


async def flush(app: web.Application, state: PayKitState) -> None:
    """Deliver what is due now and wait for it; a no-op when the app runs no dispatcher."""
    dispatcher = app[DISPATCHER_KEY].dispatcher
    if dispatcher is not None:
        await dispatcher.flush(state)


async def delivery_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client session and one dispatcher per app, registered as a due source."""
    world, slot = app[WORLD_KEY], app[DISPATCHER_KEY]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        dispatcher = slot.dispatcher = StripeDispatcher(world, session)
        world.add_source(PRODUCT_NAME, dispatcher)
        dispatcher.start()
        try:
            yield
        finally:
            world.remove_source(dispatcher)
            slot.dispatcher = None
            await dispatcher.close()
