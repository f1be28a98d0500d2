"""Webhooks without the network: the outbox (`store.events`) turned into deliveries, and what follows.

Owns webhook endpoints management, the delivery log (`store.webhook_log`, so a reset empties it), the
envelope's bytes (serialised once per event), the retry schedule on the emulator clock, per-subject
ordering, the receiver-testing policies (duplicate, out-of-order, delayed) and signing. Sending them is
`delivery.py`'s. No aiohttp.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from ...engine.history import high_water
from ...engine.product import Transition
from ...engine.structs import struct
from ...engine.values import is_http_url
from .errors import BadRequestError, ConflictError, NotFoundError
from .models import DeliveryAttempt, DeliveryLog, DeliveryStatus, DomainEvent, WebhookDelivery, WebhookEndpoint
from .state import Store
from .views import render_webhook_envelope

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
    if not is_http_url(url):
        raise BadRequestError(f"url must be an absolute http(s) URL without spaces or control characters, "
                              f"got {url!r}", code="invalid_request")


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


def subscribes(patterns: Iterable[str] | None, event_type: str) -> bool:
    """Whether an endpoint's `events` take this type: absent means every type; an entry is a type,
    `*` (every type) or `<family>.*` (every type of that family, e.g. `subscription.*`)."""
    if patterns is None:
        return True
    family = event_type.partition(".")[0]
    return any(p in (event_type, "*", f"{family}.*") for p in patterns)


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
            if not subscribes(endpoint.events, event.type):
                continue
            body = body or serialise(event)
            _enqueue(store, log_, endpoint, event, body)
    _trim(store, log_)
    return log_


def _trim(store: Store, log_: DeliveryLog) -> None:
    """Keep the event log and the delivery history within their caps (`Store.limits`): the oldest
    events already turned into deliveries go first, then the oldest finished deliveries. Only here,
    never inside a domain operation, so an operation's own slice of the event log stays put."""
    limits = store.limits
    extra = len(store.events) - limits.events
    if len(store.events) > high_water(limits.events):
        count = min(extra, log_.cursor)
        store.evict("events", store.events, count)
        log_.cursor -= count
    extra = len(log_.deliveries) - limits.deliveries
    if len(log_.deliveries) > high_water(limits.deliveries):
        gone = list(islice((key for key, d in log_.deliveries.items() if d.status != "pending"), extra))
        for key in gone:
            del log_.deliveries[key]
        store.evicted["deliveries"] = store.evicted.get("deliveries", 0) + len(gone)


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


def begin_attempt(store: Store, log_: DeliveryLog, delivery: WebhookDelivery, at: datetime) -> WebhookEndpoint | None:
    """An attempt starts at `at` (its retry schedule counts from the first one): the endpoint to send to,
    or None when it was deleted meanwhile (the delivery is then given up)."""
    if delivery.schedule_start is None:
        delivery.schedule_start = at
    endpoint = store.webhook_endpoints.get(delivery.endpoint_id)
    if endpoint is None:
        _finish(log_, delivery, "failed", at)
    return endpoint


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
                    endpoint_id: str | None = None, event_id: str | None = None) -> Iterator[WebhookDelivery]:
    """The deliveries matching every filter given, in creation order (lazily: a page stops early)."""
    return (d for d in collect(store).deliveries.values()
            if (type_ is None or d.type == type_) and (status is None or d.status == status)
            and (endpoint_id is None or d.endpoint_id == endpoint_id) and (event_id is None or d.event_id == event_id))


def list_events(store: Store, *, type_: str | None = None) -> Iterator[DomainEvent]:
    return (e for e in store.events if type_ is None or e.type == type_)


@struct(frozen=True, kw_only=True)
class WebhookAttempt(Transition):
    """A delivery attempt run while time moved (`webhook.attempt`), and where it left the delivery."""

    delivery_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status_code: int | None
    error: str | None
    delivery_status: DeliveryStatus


def attempted(delivery: WebhookDelivery, at: datetime) -> WebhookAttempt:
    """The transition of an attempt made at `at` (its last attempt record, if one was sent)."""
    last = delivery.attempts[-1] if delivery.attempts else None
    return WebhookAttempt(kind="webhook.attempt", at=at, delivery_id=delivery.id, event_id=delivery.event_id,
                          event_type=delivery.type, endpoint_id=delivery.endpoint_id,
                          status_code=last.status_code if last else None, error=last.error if last else None,
                          delivery_status=delivery.status)


# --- signing ---------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_headers(delivery: WebhookDelivery, secret: str) -> dict[str, str]:
    signature = sign(secret, delivery.body)
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Signature": signature,
            "X-Monetize-Signature": f"sha256={signature}", "X-Monetize-Event-Id": delivery.event_id,
            "X-Monetize-Event-Type": delivery.type, "X-Monetize-Delivery-Id": delivery.id}
