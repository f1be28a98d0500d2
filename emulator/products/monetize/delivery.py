"""Webhook delivery over HTTP: sending due deliveries of the outbox (`webhooks.py`) to their endpoints.

Owns `send` (one POST, any outcome recorded as an attempt) and `WebhookDispatcher`: a background
`DueSource` that `World.catch_up` drives inline on clock moves (bounded by the move's shared deadline),
plus a worker task (started from the app's cleanup_ctx, `delivery_context`) that sends due attempts as
real time passes. Imports no handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from ...engine.clock import monotonic
from ...engine.keys import WORLD_KEY
from ...engine.moves import wait_or_cut
from ...engine.world import World
from .models import DeliveryAttempt, DeliveryLog, WebhookDelivery
from .state import PRODUCT_NAME, Store, store_of
from .webhooks import (
    WebhookAttempt,
    attempted,
    begin_attempt,
    collect,
    due_deliveries,
    next_attempt_at,
    record_attempt,
    request_headers,
)

log = logging.getLogger("paywall_emulator.webhooks")

# The worker's longest sleep between looks at the outbox: how late a new event may start out.
POLL_SECONDS = 0.05
# After a clock move's deadline passed, how long an attempt to an endpoint that has not yet left one
# unanswered in this move may still take (capped at the attempt timeout).
LATE_GRACE_SECONDS = 1.0


async def send(session: aiohttp.ClientSession, delivery: WebhookDelivery, secret: str, *, at: datetime,
               limit_seconds: float) -> DeliveryAttempt:
    """POST the delivery once; any answer, timeout or connection error becomes an attempt record."""
    started = monotonic()
    status: int | None = None
    error: str | None = None
    try:
        async with session.post(delivery.url, data=delivery.body, headers=request_headers(delivery, secret),
                                timeout=aiohttp.ClientTimeout(total=limit_seconds), allow_redirects=False) as resp:
            await resp.read()
            status = resp.status
    except TimeoutError:
        error = f"timeout: no answer within {limit_seconds:g} s"
    except (aiohttp.ClientError, ValueError) as exc:
        error = f"connection error: {type(exc).__name__}: {exc}"[:500]
    except Exception as exc:  # anything else still ends this attempt (and schedules the next), never loops
        log.warning("webhook attempt %s failed unexpectedly", delivery.id, exc_info=exc)
        error = f"error: {type(exc).__name__}: {exc}"[:500]
    return DeliveryAttempt(at=at, status_code=status, error=error, duration_ms=(monotonic() - started) * 1000)


class WebhookDispatcher:
    """Sends due deliveries: inline when `World.catch_up` moves the clock (a background `DueSource`)
    and from its own worker task as real time passes. Each attempt runs in its own task, so a slow
    receiver never holds up other endpoints or subjects; an attempt is never started twice.

    A clock move gives all its attempts one shared real-time deadline (`World.move_deadline`): an
    attempt still unanswered then is cut and recorded as a timeout at its own instant (so its retry
    schedule goes on), and later attempts of the same move to an endpoint that left one unanswered
    (cut, or timed out on its own) are recorded as timeouts without waiting. However many attempts
    fall due, a move waits about one attempt timeout."""

    background = True

    def __init__(self, world: World, session: aiohttp.ClientSession) -> None:
        self.world = world
        self.session = session
        self._log: DeliveryLog | None = None
        self._inflight: dict[str, tuple[datetime, asyncio.Task[WebhookAttempt]]] = {}
        self._orphans: set[asyncio.Task[WebhookAttempt]] = set()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._cutting: set[str] = set()  # deliveries whose attempt the move's deadline is cutting
        # The move (its deadline) and the endpoints that left an attempt of it unanswered.
        self._silent: tuple[float | None, set[str]] = (None, set())

    # DueSource
    def next_due(self, store: Store) -> datetime | None:
        log_ = self._current(store)
        times = [started for started, _ in self._inflight.values()]
        upcoming = next_attempt_at(log_, self._inflight.keys())
        if upcoming is not None:
            times.append(upcoming)
        return min(times, default=None)

    async def run_due(self, store: Store, at: datetime) -> list[WebhookAttempt]:
        log_ = self._current(store)
        for delivery in due_deliveries(log_, at, self._inflight.keys()):
            self._start(store, log_, delivery, at)
        tasks = [task for started, task in self._inflight.values() if started <= at]
        if not tasks:
            return []
        deadline = self.world.move_deadline
        if deadline is not None:  # past the deadline, endpoints not yet silent get a short grace
            grace = min(LATE_GRACE_SECONDS, self.world.config.webhook_timeout)
            deadline = max(deadline, monotonic() + grace)
        await wait_or_cut(tasks, deadline, self._cut)  # never cancels them because this caller was cancelled
        return [task.result() for task in tasks if not task.cancelled() and task.exception() is None]

    def _cut(self, task: asyncio.Task[Any]) -> None:
        """The move's deadline passed with this attempt unanswered: it ends as a timeout."""
        for key, (_, running) in self._inflight.items():
            if running is task:
                self._cutting.add(key)
                task.cancel()

    def _silent_endpoints(self) -> set[str]:
        deadline = self.world.move_deadline
        if self._silent[0] != deadline:
            self._silent = (deadline, set())
        return self._silent[1]

    # worker
    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="webhook-worker")

    async def close(self) -> None:
        tasks: list[asyncio.Task[Any]] = [task for _, task in self._inflight.values()] + list(self._orphans)
        self._closing = True  # the worker ends at its next turn even if a cancel() got lost
        self._wake.set()
        if self._worker is not None:
            tasks.append(self._worker)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()
        self._orphans.clear()

    async def _run(self) -> None:
        while not self._closing:
            try:
                store = store_of(self.world)
                log_ = self._current(store)
                now = self.world.now()
                for delivery in due_deliveries(log_, now, self._inflight.keys()):
                    self._start(store, log_, delivery, now)
            except Exception:  # a bug must not end delivery for the app's lifetime
                log.exception("the webhook worker hit an unexpected error")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel() that lands as
            # the event fires (gh-86296), and a worker that never ends hangs the app's cleanup.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()

    def _current(self, store: Store) -> DeliveryLog:
        log_ = collect(store)
        if log_ is not self._log:  # a reset replaced the log: attempts of the old world are moot
            for _, task in self._inflight.values():
                task.cancel()
                self._orphans.add(task)
            self._inflight.clear()
            self._log = log_
        return log_

    def _start(self, store: Store, log_: DeliveryLog, delivery: WebhookDelivery, at: datetime) -> None:
        task = asyncio.create_task(self._attempt(store, log_, delivery, at), name=f"webhook {delivery.id}")
        self._inflight[delivery.id] = (at, task)
        task.add_done_callback(functools.partial(self._settled, delivery.id))

    def _settled(self, key: str, task: asyncio.Task[WebhookAttempt]) -> None:
        if self._inflight.get(key, (None, None))[1] is task:
            del self._inflight[key]
        self._orphans.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook attempt %s crashed", key, exc_info=task.exception())
        self._wake.set()  # whatever waited on this delivery may go now

    async def _attempt(self, store: Store, log_: DeliveryLog, delivery: WebhookDelivery,
                       at: datetime) -> WebhookAttempt:
        endpoint = begin_attempt(store, log_, delivery, at)
        if endpoint is None:
            return attempted(delivery, at)
        limit = self.world.config.webhook_timeout
        if self.world.move_deadline is not None and endpoint.id in self._silent_endpoints():
            attempt = DeliveryAttempt(at=at, status_code=None, duration_ms=0.0,
                                      error=f"timeout: no answer within {limit:g} s (the endpoint left an earlier "
                                            f"attempt of this clock move unanswered)")
        else:
            started = monotonic()
            try:
                attempt = await send(self.session, delivery, endpoint.secret, at=at, limit_seconds=limit)
            except asyncio.CancelledError:
                if delivery.id not in self._cutting:
                    raise
                self._cutting.discard(delivery.id)
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()  # this cancel was the deadline's cut, not the app closing
                attempt = DeliveryAttempt(at=at, status_code=None, duration_ms=(monotonic() - started) * 1000,
                                          error=f"timeout: no answer by the clock move's deadline "
                                                f"({limit:g} s after it started)")
            if self.world.move_deadline is not None and attempt.error and attempt.error.startswith("timeout"):
                self._silent_endpoints().add(endpoint.id)  # its own timeout may beat the deadline's cut
        record_attempt(log_, delivery, attempt)
        return attempted(delivery, at)


async def delivery_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one HTTP client session and one dispatcher per app, registered as a due source."""
    world = app[WORLD_KEY]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        dispatcher = WebhookDispatcher(world, session)
        world.add_source(PRODUCT_NAME, dispatcher)
        dispatcher.start()
        try:
            yield
        finally:
            world.remove_source(dispatcher)
            await dispatcher.close()
