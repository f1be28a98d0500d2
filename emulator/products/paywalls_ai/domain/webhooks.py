"""Webhook subscriptions and the delivery scheme of Paywalls.ai, as pure rules.

Owns: event-pattern validation and matching (`paywall.balance.*`, `*` alone), subscription create /
list / deactivate, the fan-out of an event into one delivery per matching active subscription, and
the retry policy (30 s base doubling, seeded jitter up to 10 %, at most 8 attempts, statuses that stop
at once). Sending is the transport's job; it reports each attempt through `record_attempt`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from ....engine.structs import struct
from ..errors import InvalidSubscriptionError, NotFoundError
from ..models import Attempt, Delivery, Event, Paywall, Subscription
from ..state import PaywallsState

BASE_DELAY = timedelta(seconds=30)
MAX_ATTEMPTS = 8
JITTER = 0.10  # of each delay, at most
STOP_STATUSES = frozenset({400, 401, 403, 404, 410, 422})
MAX_CUSTOM_HEADERS = 10
MAX_DESCRIPTION = 512
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# Headers the scheme itself sets: a custom header may not replace them.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "x-paywalls-event", "x-paywalls-signature",
                              "x-paywalls-timestamp", "user-agent"})


class Secrets(Protocol):
    def alnum(self, length: int, *, lower: bool = False) -> str: ...


@struct(kw_only=True)
class NewSubscription:
    url: str
    events: list[str]
    description: str | None = None
    custom_headers: dict[str, str] | None = None
    secret: str | None = None


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """`*` matches every type; `a.b.*` every type strictly under `a.b.`; anything else exactly."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise InvalidSubscriptionError(f"url is not a valid URL: {exc}", code="invalid_url", param="url") from exc
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
    if not secure or not parts.hostname or not port_ok or any(c.isspace() for c in url):
        raise InvalidSubscriptionError("url must be an absolute https URL (http only to a loopback host)",
                                       code="invalid_url", param="url")


def create_subscription(state: PaywallsState, paywall: Paywall, spec: NewSubscription, *, now: datetime,
                        secrets: Secrets) -> Subscription:
    """Validate fully, then add the subscription; it receives events emitted from now on."""
    check_url(spec.url)
    events = list(dict.fromkeys(spec.events))
    if "*" in events and len(events) > 1:
        raise InvalidSubscriptionError("the wildcard '*' cannot be mixed with other event names", param="events")
    headers = dict(spec.custom_headers or {})
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise InvalidSubscriptionError(f"at most {MAX_CUSTOM_HEADERS} customHeaders", param="customHeaders")
    reserved = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
    if reserved:
        raise InvalidSubscriptionError(f"customHeaders may not set {reserved}", param="customHeaders")
    description = spec.description.strip()[:MAX_DESCRIPTION] if spec.description else None
    subscription = Subscription(
        id=state.new_id("sub"), paywall_id=paywall.id, url=spec.url, events=tuple(events), is_active=True,
        description=description or None, custom_headers=headers,
        secret=spec.secret or f"whsec_{secrets.alnum(32)}", created_by=paywall.owner_user_id,
        created_at=now, updated_at=now)
    state.subscriptions[subscription.id] = subscription
    return subscription


def list_subscriptions(state: PaywallsState, paywall: Paywall, status: str | None = None) -> list[Subscription]:
    wanted = None if status is None else status == "active"
    return [s for s in state.subscriptions.values()
            if s.paywall_id == paywall.id and (wanted is None or s.is_active == wanted)]


def require_subscription(state: PaywallsState, paywall: Paywall, subscription_id: str) -> Subscription:
    found = state.subscriptions.get(subscription_id)
    if found is None or found.paywall_id != paywall.id:  # another paywall's subscription is not there
        raise NotFoundError(f"No webhook subscription {subscription_id!r}", code="not_found", param="subscriptionId")
    return found


def deactivate(state: PaywallsState, paywall: Paywall, subscription_id: str, now: datetime) -> Subscription:
    """Soft-deactivate: no later events; its pending deliveries end as `error`."""
    subscription = require_subscription(state, paywall, subscription_id)
    if subscription.is_active:
        subscription.is_active = False
        subscription.updated_at = now
        for delivery in [d for d in state.pending_deliveries() if d.subscription_id == subscription.id]:
            _end(state, delivery, "error", now)
    return subscription


def fan_out(state: PaywallsState, event: Event) -> list[Delivery]:
    """One pending delivery, due at once, per active subscription of the paywall matching the type."""
    made = []
    for subscription in state.subscriptions.values():
        if subscription.paywall_id == event.paywall_id and subscription.is_active \
                and matches(subscription.events, event.type):
            delivery = Delivery(id=state.new_id("dly"), subscription_id=subscription.id, event_id=event.id,
                                event_type=event.type, status="pending", created_at=event.created_at,
                                updated_at=event.created_at, next_attempt_at=event.created_at)
            state.deliveries[delivery.id] = delivery
            state.pending.add(delivery.id)
            made.append(delivery)
    return made


def retry_delay(seed: int, delivery_id: str, failed_attempts: int) -> timedelta:
    """The wait after the `failed_attempts`-th failure: 30 s, 60 s, 120 s, … plus a jitter of up to 10 %
    derived from the world's id seed and the delivery (the same world replays the same schedule)."""
    base = BASE_DELAY * (1 << (failed_attempts - 1))
    digest = hashlib.sha256(f"{seed}:{delivery_id}:{failed_attempts}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    jitter = timedelta(microseconds=int(base.total_seconds() * 1_000_000 * JITTER * fraction))
    return base + jitter


def due(state: PaywallsState, at: datetime) -> list[Delivery]:
    return [d for d in state.pending_deliveries() if d.next_attempt_at is not None and d.next_attempt_at <= at]


def next_due(state: PaywallsState) -> datetime | None:
    return min((d.next_attempt_at for d in state.pending_deliveries() if d.next_attempt_at is not None),
               default=None)


def record_attempt(state: PaywallsState, delivery: Delivery, *, at: datetime, status_code: int | None,
                   error: str | None) -> None:
    """Log one attempt, then: 2xx → success; a stop status or the 8th attempt → error; else retry later."""
    delivery.attempts.append(Attempt(at=at, status_code=status_code, error=error))
    delivery.updated_at = at
    if delivery.status != "pending":  # ended while the attempt was in flight (subscription deactivated)
        return
    subscription = state.subscriptions.get(delivery.subscription_id)
    ok = status_code is not None and 200 <= status_code < 300
    if subscription is not None:
        subscription.consecutive_failures = 0 if ok else subscription.consecutive_failures + 1
        if ok:
            subscription.last_delivered_at = at
    if ok:
        _end(state, delivery, "success", at)
    elif status_code in STOP_STATUSES or len(delivery.attempts) >= MAX_ATTEMPTS:
        _end(state, delivery, "error", at)
    else:
        delivery.next_attempt_at = at + retry_delay(state.id_seed, delivery.id, len(delivery.attempts))


def _end(state: PaywallsState, delivery: Delivery, status: str, at: datetime) -> None:
    delivery.status = "success" if status == "success" else "error"
    delivery.next_attempt_at = None
    delivery.updated_at = at
    state.pending.discard(delivery.id)


def logs(state: PaywallsState, paywall: Paywall, *, subscription_id: str | None = None, status: str | None = None,
         event_type: str | None = None, limit: int = 20) -> list[Delivery]:
    """The paywall's deliveries, newest first, filtered as the logs endpoint documents."""
    mine = {s.id for s in state.subscriptions.values() if s.paywall_id == paywall.id}
    found = [d for d in reversed(state.deliveries.values())
             if d.subscription_id in mine and (subscription_id is None or d.subscription_id == subscription_id)
             and (status is None or d.status == status) and (event_type is None or d.event_type == event_type)]
    return found[:limit]
