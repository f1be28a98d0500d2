"""Webhook delivery: the outbox (`store.events`) turned into signed HTTP deliveries.

Owns webhook endpoints management, the delivery log (`store.webhook_log`, so a reset empties it),
the retry schedule on the emulator clock, per-subject ordering, the receiver-testing policies
(duplicate, out-of-order, delayed), signing, and `WebhookDispatcher`: a background `DueSource` that
`World.catch_up` drives inline on clock moves, plus a worker task (started from the app's cleanup_ctx)
that sends due attempts as real time passes. HTTP layer: uses aiohttp's client, imports no handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ...engine.clock import monotonic
from ...engine.keys import WORLD_KEY
from ...engine.world import World
from .errors import BadRequestError, ConflictError, NotFoundError
from .models import DeliveryAttempt, DeliveryLog, DeliveryStatus, DomainEvent, WebhookDelivery, WebhookEndpoint
from .state import PRODUCT_NAME, Store, store_of
from .views import iso, render_webhook_envelope

log = logging.getLogger("paywall_emulator.webhooks")

# Attempt offsets, counted from the first attempt (or from a redelivery): +0, +1 min, +5 min, +30 min,
# +2 h, +6 h; a delivery whose sixth attempt fails is marked failed. Keep in step with the spec's
# `webhooks:` description.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=6),
)
# out_of_order policy: a delivery with no later partner to swap with goes out after this (emulator time).
SWAP_WINDOW = timedelta(seconds=5)
USER_AGENT = "Monetize-Webhooks/1.0"
# The worker's longest sleep between looks at the outbox: how late a new event may start out.
POLL_SECONDS = 0.05
POLICY_KEYS = ("duplicate", "out_of_order", "delay_seconds")


def delivery_log(store: Store) -> DeliveryLog:
    return store.webhook_log


# --- endpoints -------------------------------------------------------------------------------


def register_endpoint(store: Store, *, url: str, secret: str | None = None, events: Iterable[str] | None = None,
                      owner_id: str | None = None) -> WebhookEndpoint:
    """A new endpoint of `owner_id` (default: the first owner); it receives events recorded from now on."""
    owner = owner_id if owner_id is not None else next(iter(store.owners), None)
    if owner is None or owner not in store.owners:
        raise NotFoundError(f"no owner {owner_id!r}", code="not_found")
    check_url(url)
    collect(store)  # events recorded so far belong to the endpoints that existed then
    endpoint_id = f"we_api_{store.ids.sequence('webhook_endpoint')}"
    while endpoint_id in store.webhook_endpoints:
        endpoint_id = f"we_api_{store.ids.sequence('webhook_endpoint')}"
    endpoint = WebhookEndpoint(id=endpoint_id, owner_id=owner, url=url,
                               secret=secret or f"whsec_{store.ids.alnum(24)}",
                               events=list(dict.fromkeys(events)) if events is not None else None)
    store.webhook_endpoints[endpoint.id] = endpoint
    return endpoint


def check_url(url: str) -> None:
    """Refuse a URL nothing could ever be POSTed to (http and https only; the real platform wants https)."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise BadRequestError(f"url is not a valid URL: {exc}", code="invalid_request") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or any(c.isspace() for c in url):
        raise BadRequestError(f"url must be an absolute http(s) URL, got {url!r}", code="invalid_request")


def require_endpoint(store: Store, endpoint_id: str) -> WebhookEndpoint:
    endpoint = store.webhook_endpoints.get(endpoint_id)
    if endpoint is None:
        raise NotFoundError(f"no webhook endpoint {endpoint_id!r}", code="not_found")
    return endpoint


def remove_endpoint(store: Store, endpoint_id: str, now: datetime) -> None:
    """Delete an endpoint; its pending deliveries are given up (marked failed)."""
    require_endpoint(store, endpoint_id)
    log_ = collect(store)
    del store.webhook_endpoints[endpoint_id]
    log_.held.pop(endpoint_id, None)
    for delivery in [d for d in log_.pending.values() if d.endpoint_id == endpoint_id]:
        _finish(log_, delivery, "failed", now)


def set_policy(store: Store, endpoint_id: str, policy: dict[str, Any], now: datetime) -> WebhookEndpoint:
    """Replace the endpoint's receiver-testing policy (absent keys are off); applies to later events."""
    endpoint = require_endpoint(store, endpoint_id)
    log_ = collect(store)
    endpoint.policy = {k: policy[k] for k in POLICY_KEYS if policy.get(k)}
    held = log_.pending.get(log_.held.pop(endpoint_id, ""))
    if held is not None and held.next_attempt_at is not None:
        held.next_attempt_at = min(held.next_attempt_at, now)  # no partner will come: let it go
    return endpoint


# --- the outbox ------------------------------------------------------------------------------


def collect(store: Store) -> DeliveryLog:
    """Turn events recorded since the last call into deliveries for the subscribed endpoints."""
    log_ = delivery_log(store)
    log_.cursor = min(log_.cursor, len(store.events))
    fresh, log_.cursor = store.events[log_.cursor:], len(store.events)
    for event in fresh:
        body: bytes | None = None
        for endpoint in list(store.webhook_endpoints.values()):
            if endpoint.owner_id != event.owner_id or not endpoint.enabled:
                continue
            if endpoint.events is not None and event.type not in endpoint.events:
                continue
            body = body or serialise(event)
            _enqueue(store, log_, endpoint, event, body)
    return log_


def serialise(event: DomainEvent) -> bytes:
    """The envelope's bytes, made once per event: every copy and every attempt sends exactly these."""
    envelope = render_webhook_envelope(event)
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _enqueue(store: Store, log_: DeliveryLog, endpoint: WebhookEndpoint, event: DomainEvent, body: bytes) -> None:
    policy = endpoint.policy
    due = event.created_at + timedelta(seconds=float(policy.get("delay_seconds") or 0))
    primary = _new_delivery(store, log_, endpoint, event, body, due)
    chain = (endpoint.id, event.subject)
    if policy.get("out_of_order"):
        # Swap adjacent deliveries: the newer goes first, its predecessor right after it.
        partner = log_.pending.get(log_.held.pop(endpoint.id, ""))
        if partner is not None and not partner.attempts:
            partner.after = primary.id
            partner.next_attempt_at = due
        else:
            primary.next_attempt_at = due + SWAP_WINDOW
            log_.held[endpoint.id] = primary.id
    elif event.subject:
        primary.after = log_.chain_tail.get(chain)
    last = primary
    if policy.get("duplicate"):
        last = _new_delivery(store, log_, endpoint, event, body, primary.next_attempt_at or due)
        last.after = last.duplicate_of = primary.id
    if event.subject and not policy.get("out_of_order"):
        log_.chain_tail[chain] = last.id


def _new_delivery(store: Store, log_: DeliveryLog, endpoint: WebhookEndpoint, event: DomainEvent, body: bytes,
                  due: datetime) -> WebhookDelivery:
    delivery = WebhookDelivery(
        id=f"whd_{store.ids.sequence('webhook_delivery'):06d}", event_id=event.id, type=event.type,
        endpoint_id=endpoint.id, url=endpoint.url, subject=event.subject, body=body,
        created_at=event.created_at, next_attempt_at=due)
    log_.deliveries[delivery.id] = log_.pending[delivery.id] = delivery
    return delivery


# --- scheduling (pure) -----------------------------------------------------------------------


def _unblocked(log_: DeliveryLog, delivery: WebhookDelivery) -> bool:
    before = log_.deliveries.get(delivery.after) if delivery.after else None
    return before is None or before.status != "pending"


def due_deliveries(log_: DeliveryLog, at: datetime, busy: Collection[str]) -> list[WebhookDelivery]:
    """Pending deliveries whose next attempt is due at `at`, not in flight, not waiting on another."""
    return [d for d in log_.pending.values()
            if d.id not in busy and d.next_attempt_at is not None and d.next_attempt_at <= at
            and _unblocked(log_, d)]


def next_attempt_at(log_: DeliveryLog, busy: Collection[str]) -> datetime | None:
    times = [d.next_attempt_at for d in log_.pending.values()
             if d.id not in busy and d.next_attempt_at is not None and _unblocked(log_, d)]
    return min(times, default=None)


def record_attempt(log_: DeliveryLog, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
    """Log an attempt and decide what follows: done, failed for good, or the next retry."""
    delivery.attempts.append(attempt)
    if delivery.status != "pending":  # given up while the attempt was in flight (endpoint deleted)
        return
    start = delivery.schedule_start or attempt.at
    delivery.schedule_attempts += 1
    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
        _finish(log_, delivery, "succeeded", attempt.at)
    elif delivery.schedule_attempts >= len(RETRY_SCHEDULE):
        _finish(log_, delivery, "failed", attempt.at)
    else:
        delivery.next_attempt_at = max(start + RETRY_SCHEDULE[delivery.schedule_attempts], attempt.at)


def _finish(log_: DeliveryLog, delivery: WebhookDelivery, status: DeliveryStatus, at: datetime) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    log_.pending.pop(delivery.id, None)
    for waiting in log_.pending.values():  # the next in line goes out no earlier than now
        if waiting.after == delivery.id and waiting.next_attempt_at is not None:
            waiting.next_attempt_at = max(waiting.next_attempt_at, at)


def redeliver(store: Store, delivery_id: str, now: datetime) -> WebhookDelivery:
    """Send a delivery again now, with a fresh retry schedule, whatever its status and order."""
    log_ = collect(store)
    delivery = log_.deliveries.get(delivery_id)
    if delivery is None:
        raise NotFoundError(f"no webhook delivery {delivery_id!r}", code="not_found")
    if delivery.endpoint_id not in store.webhook_endpoints:
        raise ConflictError(f"the endpoint of {delivery_id} was deleted", code="invalid_state")
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.after = None
    delivery.schedule_start = None
    delivery.schedule_attempts = 0
    log_.pending[delivery.id] = delivery
    return delivery


def list_deliveries(store: Store, *, type_: str | None = None, status: str | None = None,
                    endpoint_id: str | None = None, event_id: str | None = None) -> list[WebhookDelivery]:
    return [d for d in collect(store).deliveries.values()
            if (type_ is None or d.type == type_) and (status is None or d.status == status)
            and (endpoint_id is None or d.endpoint_id == endpoint_id) and (event_id is None or d.event_id == event_id)]


def list_events(store: Store, *, type_: str | None = None) -> list[DomainEvent]:
    return [e for e in store.events if type_ is None or e.type == type_]


# --- sending ---------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_headers(delivery: WebhookDelivery, secret: str) -> dict[str, str]:
    signature = sign(secret, delivery.body)
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Signature": signature,
            "X-Monetize-Signature": f"sha256={signature}", "X-Monetize-Event-Id": delivery.event_id,
            "X-Monetize-Event-Type": delivery.type, "X-Monetize-Delivery-Id": delivery.id}


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
    receiver never holds up other endpoints or subjects; an attempt is never started twice."""

    background = True

    def __init__(self, world: World, session: aiohttp.ClientSession) -> None:
        self.world = world
        self.session = session
        self._log: DeliveryLog | None = None
        self._inflight: dict[str, tuple[datetime, asyncio.Task[dict[str, Any]]]] = {}
        self._orphans: set[asyncio.Task[dict[str, Any]]] = set()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    # DueSource
    def next_due(self, store: Store) -> datetime | None:
        log_ = self._current(store)
        times = [started for started, _ in self._inflight.values()]
        upcoming = next_attempt_at(log_, self._inflight.keys())
        if upcoming is not None:
            times.append(upcoming)
        return min(times, default=None)

    async def run_due(self, store: Store, at: datetime) -> list[dict[str, Any]]:
        log_ = self._current(store)
        for delivery in due_deliveries(log_, at, self._inflight.keys()):
            self._start(store, log_, delivery, at)
        tasks = [task for started, task in self._inflight.values() if started <= at]
        if not tasks:
            return []
        await asyncio.wait(tasks)  # never cancels them, even if this caller is cancelled
        return [task.result() for task in tasks if not task.cancelled() and task.exception() is None]

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

    def _settled(self, key: str, task: asyncio.Task[dict[str, Any]]) -> None:
        if self._inflight.get(key, (None, None))[1] is task:
            del self._inflight[key]
        self._orphans.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook attempt %s crashed", key, exc_info=task.exception())
        self._wake.set()  # whatever waited on this delivery may go now

    async def _attempt(self, store: Store, log_: DeliveryLog, delivery: WebhookDelivery,
                       at: datetime) -> dict[str, Any]:
        if delivery.schedule_start is None:
            delivery.schedule_start = at
        endpoint = store.webhook_endpoints.get(delivery.endpoint_id)
        if endpoint is None:
            _finish(log_, delivery, "failed", at)
        else:
            attempt = await send(self.session, delivery, endpoint.secret, at=at,
                                 limit_seconds=self.world.config.webhook_timeout)
            record_attempt(log_, delivery, attempt)
        last = delivery.attempts[-1] if delivery.attempts else None
        return {"type": "webhook.attempt", "at": iso(at), "delivery_id": delivery.id, "event_id": delivery.event_id,
                "event_type": delivery.type, "endpoint_id": delivery.endpoint_id,
                "status_code": last.status_code if last else None, "error": last.error if last else None,
                "delivery_status": delivery.status}


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
