"""Sending Paywalls.ai webhook deliveries: each due attempt is POSTed with the exact bytes it signs
(`views.render_delivery_body`, `signing.delivery_headers`) and reported back to the pure scheme
(`domain.webhooks.record_attempt`), which decides success, retry or error. Runs inline when the
engine moves the clock (a background due source) and from its own worker as real time passes.
HTTP layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from ...engine.keys import WORLD_KEY
from ...engine.product import Transition
from .domain import webhooks
from .models import Delivery, DeliveryStatus
from .signing import delivery_headers
from .state import PRODUCT_NAME, PaywallsState
from .views import render_delivery_body

log = logging.getLogger("paywall_emulator.paywalls_ai")
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 10.0


async def delivery_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: an HTTP client session and a dispatcher for the app, registered as a due source."""
    world = app[WORLD_KEY]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        dispatcher = PaywallsDispatcher(lambda: world.states[PRODUCT_NAME], world.now, session,
                                        timeout=world.config.webhook_timeout)
        world.add_source(PRODUCT_NAME, dispatcher)
        dispatcher.start()
        try:
            yield
        finally:
            world.remove_source(dispatcher)
            await dispatcher.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class PaywallsWebhookAttempt(Transition):
    """A Paywalls.ai delivery attempt run while time moved, and where it left the delivery."""

    delivery_id: str
    event_type: str
    status_code: int | None
    error: str | None
    delivery_status: DeliveryStatus


class PaywallsDispatcher:
    """Sends due deliveries of the current state; an attempt is never started twice at once."""

    background = True

    def __init__(self, state: Callable[[], PaywallsState], now: Callable[[], datetime],
                 session: aiohttp.ClientSession, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._state = state
        self._now = now
        self.session = session
        self.timeout = timeout
        self._inflight: dict[str, tuple[datetime, asyncio.Task[PaywallsWebhookAttempt]]] = {}
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    def next_due(self, state: PaywallsState | None = None) -> datetime | None:
        """The earliest pending attempt, or an attempt in flight (a clock move waits for it)."""
        state = state if state is not None else self._state()
        times = [started for started, _ in self._inflight.values()]
        times += [d.next_attempt_at for d in state.pending_deliveries()
                  if d.next_attempt_at is not None and d.id not in self._inflight]
        return min(times, default=None)

    async def run_due(self, state: PaywallsState, at: datetime) -> list[Transition]:
        """Attempt everything due at `at` and wait for those attempts, and for the worker's attempts
        started by then."""
        for delivery in webhooks.due(state, at):
            if delivery.id not in self._inflight:
                self._start(state, delivery, at)
        tasks = [task for started, task in self._inflight.values() if started <= at]
        if not tasks:
            return []
        await asyncio.wait(tasks)
        return [t.result() for t in tasks if not t.cancelled() and t.exception() is None]

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="paywalls-ai-webhooks")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
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
                state, now = self._state(), self._now()
                for delivery in webhooks.due(state, now):
                    if delivery.id not in self._inflight:
                        self._start(state, delivery, now)
            except Exception:  # a bug must not end delivery for the app's lifetime
                log.exception("the Paywalls.ai webhook worker hit an unexpected error")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()

    def _start(self, state: PaywallsState, delivery: Delivery, at: datetime) -> asyncio.Task[PaywallsWebhookAttempt]:
        task = asyncio.create_task(self._attempt(state, delivery, at), name=f"paywalls-ai webhook {delivery.id}")
        self._inflight[delivery.id] = (at, task)
        task.add_done_callback(lambda done: self._settled(delivery.id, done))
        return task

    def _settled(self, key: str, task: asyncio.Task[PaywallsWebhookAttempt]) -> None:
        if self._inflight.get(key, (None, None))[1] is task:
            del self._inflight[key]
        self._wake.set()

    async def _attempt(self, state: PaywallsState, delivery: Delivery, at: datetime) -> PaywallsWebhookAttempt:
        subscription = state.subscriptions[delivery.subscription_id]
        event = next(e for e in state.events if e.id == delivery.event_id)
        body = render_delivery_body(delivery, event, attempt=len(delivery.attempts) + 1, at=at)
        headers = delivery_headers(event_type=event.type, secret=subscription.secret, body=body, at=at,
                                   custom=subscription.custom_headers)
        status: int | None = None
        error: str | None = None
        try:
            async with self.session.post(subscription.url, data=body, headers=headers, allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                await resp.read()
                status = resp.status
        except TimeoutError:
            error = f"timeout: no answer within {self.timeout:g} s"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            error = f"connection error: {type(exc).__name__}: {exc}"[:500]
        webhooks.record_attempt(state, delivery, at=at, status_code=status, error=error)
        return PaywallsWebhookAttempt(kind="paywalls-ai.webhook.attempt", at=at, delivery_id=delivery.id,
                                      event_type=delivery.event_type, status_code=status, error=error,
                                      delivery_status=delivery.status)
