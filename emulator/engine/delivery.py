"""Webhook delivery over HTTP for every product: `Sender` posts what a product's `Outbox` says is due
(its worker as real time passes, inline on clock moves within the move's shared deadline) and hands
each attempt's `AttemptOutcome` back to the product, which supplies only what differs (which items are
due, one attempt's signed request, what an outcome does, its retries). HTTP layer: imports no product.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

import aiohttp
from aiohttp import web

from .clock import monotonic
from .keys import WORLD_KEY
from .moves import wait_or_cut
from .product import Transition
from .structs import struct
from .world import World

log = logging.getLogger("paywall_emulator.webhooks")

# The worker's longest sleep between looks at the outbox: how late a new event may start out.
POLL_SECONDS = 0.05
# After a clock move's deadline passed, how long an attempt to an endpoint that has not yet left one
# unanswered in this move may still take (capped at the attempt timeout).
LATE_GRACE_SECONDS = 1.0

S = TypeVar("S")  # a product's state
Item = TypeVar("Item")  # one item of its outbox (a delivery, an event)
S_contra = TypeVar("S_contra", contravariant=True)

# How an attempt failed: no answer within its own timeout, a connection (or request) error, anything
# else, cut by the clock move's deadline, or not sent because its endpoint already left an attempt of
# the same move unanswered.
Failure = Literal["timeout", "connection", "error", "cut", "silent"]


@struct(frozen=True, kw_only=True)
class Post:
    """One attempt's request, rendered and signed by the product."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    at: datetime  # the instant the attempt is made (and recorded) at, in emulator time
    timeout: float  # seconds the receiver has to answer
    # What a clock move treats as one receiver: once it left an attempt of the move unanswered, its
    # later attempts of that move are recorded as timeouts without waiting.
    endpoint: str
    follow_redirects: bool = False


@struct(frozen=True, kw_only=True)
class AttemptOutcome:
    """How one attempt ended: an answer (`status`, `body`, the body's `encoding`) or a `failure`."""

    status: int | None = None
    body: bytes = b""
    encoding: str = "utf-8"
    failure: Failure | None = None
    detail: str = ""  # the exception behind a timeout, connection error or error: `Type: message`
    limit: float  # the attempt's timeout, in seconds
    duration_ms: float = 0.0

    @property
    def timed_out(self) -> bool:
        return self.failure in ("timeout", "cut", "silent")


def describe(outcome: AttemptOutcome) -> str | None:
    """The usual one-line error of a failed attempt (None when it was answered)."""
    match outcome.failure:
        case None:
            return None
        case "timeout":
            return f"timeout: no answer within {outcome.limit:g} s"
        case "connection":
            return f"connection error: {outcome.detail}"[:500]
        case "error":
            return f"error: {outcome.detail}"[:500]
        case "silent":
            return (f"timeout: no answer within {outcome.limit:g} s (the endpoint left an earlier attempt of this "
                    f"clock move unanswered)")
        case "cut":
            return f"timeout: no answer by the clock move's deadline ({outcome.limit:g} s after it started)"


class Outbox(Protocol[S_contra, Item]):
    """What a product's webhooks tell the sender. `busy` holds the keys of the items in flight."""

    def next_due(self, state: S_contra, busy: Collection[str]) -> datetime | None:
        """The earliest instant an item not in flight is due, or None."""
        ...

    def take_due(self, state: S_contra, at: datetime, busy: Collection[str]) -> Iterable[Item]:
        """The items due at `at` and not in flight (the product may mark them as being sent)."""
        ...

    def key(self, item: Item) -> str:
        """The item's identity: never two attempts of one key at once."""
        ...

    def prepare(self, state: S_contra, item: Item, at: datetime) -> Post | None:
        """One attempt's signed request as of `at`, or None when there is nothing to send any more."""
        ...

    def record(self, state: S_contra, item: Item, at: datetime, outcome: AttemptOutcome | None) -> Transition:
        """Record the attempt made at `at` (`outcome` None: `prepare` sent nothing) and decide what follows."""
        ...


async def send(session: aiohttp.ClientSession, post: Post) -> AttemptOutcome:
    """POST once; any answer, timeout or connection error becomes an `AttemptOutcome`."""
    started = monotonic()
    status: int | None = None
    body, encoding = b"", "utf-8"
    failure: Failure | None = None
    detail = ""
    try:
        async with session.post(post.url, data=post.body, headers=dict(post.headers),
                                timeout=aiohttp.ClientTimeout(total=post.timeout),
                                allow_redirects=post.follow_redirects) as resp:
            body = await resp.read()
            status, encoding = resp.status, resp.get_encoding()
    except TimeoutError as exc:
        failure, detail = "timeout", f"{type(exc).__name__}: {exc}"
    except (aiohttp.ClientError, ValueError, OSError) as exc:
        failure, detail = "connection", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # anything else still ends this attempt (and schedules the next), never loops
        log.warning("webhook attempt to %s failed unexpectedly", post.url, exc_info=exc)
        failure, detail = "error", f"{type(exc).__name__}: {exc}"
    return AttemptOutcome(status=status, body=body, encoding=encoding, failure=failure, detail=detail,
                          limit=post.timeout, duration_ms=(monotonic() - started) * 1000)


def _no_deadline() -> float | None:
    return None


class Sender(Generic[S, Item]):
    """Sends a product's due webhook attempts: inline when `World.catch_up` moves the clock (a
    background `DueSource`) and from its own worker task as real time passes. Each attempt runs in its
    own task, so a slow receiver never holds up the others; an item is never attempted twice at once.

    A clock move gives all its attempts one shared real-time deadline (`move_deadline`): an attempt still
    unanswered then is cut and recorded as a timeout at its own instant (so its retry schedule goes on),
    and later attempts of the same move to an endpoint that left one unanswered (cut, or timed out on its
    own) are recorded as timeouts without waiting. However many attempts fall due, a move waits about
    one attempt timeout. A new state (a reset, a world loaded) makes attempts still in flight moot."""

    background = True

    def __init__(self, outbox: Outbox[S, Item], session: aiohttp.ClientSession, *, state: Callable[[], S | None],
                 now: Callable[[], datetime], move_deadline: Callable[[], float | None] = _no_deadline,
                 late_grace: float = LATE_GRACE_SECONDS, name: str = "webhook") -> None:
        self.outbox = outbox
        self.session = session
        self._state = state
        self._now = now
        self._move_deadline = move_deadline
        self.late_grace = late_grace
        self.name = name
        self._seen: S | None = None  # the state the attempts in flight belong to
        self._inflight: dict[str, tuple[datetime, asyncio.Task[Transition]]] = {}
        self._orphans: set[asyncio.Task[Transition]] = set()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._cutting: set[str] = set()  # items whose attempt the move's deadline is cutting
        # The move (its deadline) and the endpoints that left an attempt of it unanswered.
        self._silent: tuple[float | None, set[str]] = (None, set())

    # DueSource
    def next_due(self, state: S | None = None) -> datetime | None:
        """The earliest attempt due, or an attempt in flight (a clock move waits for it)."""
        state = state if state is not None else self._state()
        if state is None:
            return None
        self._current(state)
        times = [started for started, _ in self._inflight.values()]
        upcoming = self.outbox.next_due(state, self._inflight.keys())
        if upcoming is not None:
            times.append(upcoming)
        return min(times, default=None)

    async def run_due(self, state: S, at: datetime) -> list[Transition]:
        """Attempt everything due at `at` and wait for those attempts, and for the worker's attempts
        started by then (within a clock move's deadline)."""
        self._current(state)
        for item in list(self.outbox.take_due(state, at, self._inflight.keys())):
            self._start(state, item, at)
        due = [(key, task) for key, (started, task) in self._inflight.items() if started <= at]
        if not due:
            return []
        tasks = [task for _, task in due]
        deadline = self._move_deadline()
        if deadline is not None:  # past the deadline, endpoints not yet silent get a short grace
            deadline = max(deadline, monotonic() + self.late_grace)
            # Let the new attempts start: a task cut before its first step would end without a record.
            await asyncio.sleep(0)
        await wait_or_cut(tasks, deadline, self._cut)  # never cancels them because this caller was cancelled
        for key, task in due:  # all done: forget them now, not when their done callbacks run, so the next
            if self._inflight.get(key, (None, None))[1] is task:  # instant of the move reports them once
                del self._inflight[key]
        return [task.result() for task in tasks if not task.cancelled() and task.exception() is None]

    async def flush(self, state: S | None = None) -> list[Transition]:
        """Deliver everything due now and wait for it (a hosted page redirects once its webhook landed)."""
        state = state if state is not None else self._state()
        return [] if state is None else await self.run_due(state, self._now())

    def _cut(self, task: asyncio.Task[Any]) -> None:
        """The move's deadline passed with this attempt unanswered: it ends as a timeout."""
        for key, (_, running) in self._inflight.items():
            if running is task:
                self._cutting.add(key)
                task.cancel()

    def _silent_endpoints(self) -> set[str]:
        deadline = self._move_deadline()
        if self._silent[0] != deadline:
            self._silent = (deadline, set())
        return self._silent[1]

    # worker
    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name=f"{self.name}-worker")

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
                state = self._state()
                if state is not None:
                    self._current(state)
                    now = self._now()
                    for item in list(self.outbox.take_due(state, now, self._inflight.keys())):
                        self._start(state, item, now)
            except Exception:  # a bug must not end delivery for the app's lifetime
                log.exception("the %s worker hit an unexpected error", self.name)
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel() that lands as
            # the event fires (gh-86296), and a worker that never ends hangs the app's cleanup.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()

    def _current(self, state: S) -> None:
        if state is not self._seen:  # a reset replaced the state: attempts of the old world are moot
            for _, task in self._inflight.values():
                task.cancel()
                self._orphans.add(task)
            self._inflight.clear()
            self._seen = state

    def _start(self, state: S, item: Item, at: datetime) -> None:
        key = self.outbox.key(item)
        task = asyncio.create_task(self._attempt(state, item, key, at), name=f"{self.name} {key}")
        self._inflight[key] = (at, task)
        task.add_done_callback(functools.partial(self._settled, key))

    def _settled(self, key: str, task: asyncio.Task[Transition]) -> None:
        if self._inflight.get(key, (None, None))[1] is task:
            del self._inflight[key]
        self._orphans.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s attempt %s crashed", self.name, key, exc_info=task.exception())
        self._wake.set()  # whatever waited on this item may go now

    async def _attempt(self, state: S, item: Item, key: str, at: datetime) -> Transition:
        post = self.outbox.prepare(state, item, at)
        if post is None:
            return self.outbox.record(state, item, at, None)
        if self._move_deadline() is not None and post.endpoint in self._silent_endpoints():
            outcome = AttemptOutcome(failure="silent", limit=post.timeout)
        else:
            started = monotonic()
            try:
                outcome = await send(self.session, post)
            except asyncio.CancelledError:
                if key not in self._cutting:
                    raise
                self._cutting.discard(key)
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()  # this cancel was the deadline's cut, not the app closing
                outcome = AttemptOutcome(failure="cut", limit=post.timeout, duration_ms=(monotonic() - started) * 1000)
            if self._move_deadline() is not None and outcome.timed_out:
                self._silent_endpoints().add(post.endpoint)  # its own timeout may beat the deadline's cut
        return self.outbox.record(state, item, post.at, outcome)


@struct
class SenderSlot:
    """Where handlers find an app's sender (to flush it): set before the app starts, filled while it runs."""

    sender: Sender[Any, Any] | None = field(default=None)


def sender_context(product: str, outbox: Callable[[World], Outbox[Any, Any]], *, name: str,
                   slot: web.AppKey[SenderSlot] | None = None) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx entry: one HTTP client session and one `Sender` of `product`'s outbox per app,
    registered with the World as a due source of that product (and put in `slot`, if given)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        world = app[WORLD_KEY]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            sender: Sender[Any, Any] = Sender(
                outbox(world), session, state=lambda: world.states.get(product), now=world.now,
                move_deadline=lambda: world.move_deadline,
                late_grace=min(LATE_GRACE_SECONDS, world.config.webhook_timeout), name=name)
            world.add_source(product, sender)
            if slot is not None:
                app[slot].sender = sender
            sender.start()
            try:
                yield
            finally:
                world.remove_source(sender)
                if slot is not None:
                    app[slot].sender = None
                await sender.close()

    return context
