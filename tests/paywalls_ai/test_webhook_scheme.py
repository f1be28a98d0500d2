"""The Paywalls.ai webhook scheme, pure: patterns, subscriptions, fan-out, retry schedule, stop statuses,
logs, signatures and the delivery body (validated against the spec's `webhooks:` schema)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from paywall_emulator.products.paywalls_ai import signing, views
from paywall_emulator.products.paywalls_ai.domain import balances, webhooks
from paywall_emulator.products.paywalls_ai.domain.webhooks import NewSubscription
from paywall_emulator.products.paywalls_ai.errors import InvalidSubscriptionError, NotFoundError

from .support import LINKS, T0, Secrets, state

SPEC = yaml.safe_load((Path(__file__).parents[2] / "spec" / "paywalls-ai.openapi.yaml").read_text())


def delivery_schema() -> dict[str, object]:
    return {"$ref": "#/components/schemas/Delivery", "components": SPEC["components"]}


@pytest.mark.parametrize(("patterns", "event_type", "hit"), [
    (["*"], "paywall.balance.deposit.created", True),
    (["paywall.balance.*"], "paywall.balance.deposit.created", True),
    (["paywall.balance.*"], "paywall.balance", False),
    (["paywall.balance.*"], "paywall.balancex.y", False),
    (["paywall.balance.*"], "paywall.authorization.completed", False),
    (["paywall.request.blocked"], "paywall.request.blocked", True),
    (["paywall.request"], "paywall.request.blocked", False),
])
def test_pattern_matching(patterns: list[str], event_type: str, hit: bool) -> None:
    assert webhooks.matches(patterns, event_type) is hit


def new(st: object, **kw: object) -> object:
    spec = NewSubscription(**{"url": "https://hooks.example/pw", "events": ["*"], **kw})  # type: ignore[arg-type]
    return webhooks.create_subscription(st, st.paywalls["pw_app"], spec, now=T0, secrets=Secrets())  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kw", "code"), [
    ({"url": "http://hooks.example/pw"}, "invalid_url"),
    ({"url": "ftp://x"}, "invalid_url"),
    ({"url": "https://"}, "invalid_url"),
    ({"events": ["*", "paywall.updated"]}, "invalid_events"),
    ({"custom_headers": {f"X-H{i}": "v" for i in range(11)}}, "invalid_events"),
    ({"custom_headers": {"X-Paywalls-Signature": "forged"}}, "invalid_events"),
])
def test_subscription_refusals_change_nothing(kw: dict[str, object], code: str) -> None:
    st = state()
    with pytest.raises(InvalidSubscriptionError) as info:
        new(st, **kw)
    assert info.value.code == code and st.subscriptions == {}


def test_subscription_defaults_trim_and_loopback_http() -> None:
    st = state()
    sub = new(st, url="http://127.0.0.1:9/x", description="  " + "d" * 600, custom_headers={"X-Source": "pw"})
    assert sub.url == "http://127.0.0.1:9/x" and sub.description == "d" * 512  # type: ignore[attr-defined]
    assert sub.secret.startswith("whsec_") and len(sub.secret) == 38  # type: ignore[attr-defined]
    body = views.render_subscription(sub, with_secret=True)  # type: ignore[arg-type]
    assert body["secret"] == sub.secret and body["secretSuffix"] == sub.secret[-6:]  # type: ignore[attr-defined]
    assert "secret" not in views.render_subscription(sub)  # type: ignore[arg-type]


def test_fan_out_only_to_active_matching_subscriptions_of_the_paywall() -> None:
    st = state()
    all_events = new(st)
    balance_only = new(st, events=["paywall.balance.*"])
    auth_only = new(st, events=["paywall.authorization.*"])
    gone = new(st)
    webhooks.deactivate(st, st.paywalls["pw_app"], gone.id, T0)  # type: ignore[attr-defined]
    balances.deposit(st, st.paywalls["pw_app"], "bob", "1", metadata=None, idempotency_key=None, now=T0)
    balances.charge(st, st.paywalls["pw_shared"], "dave", "1", idempotency_key=None, now=T0, links=LINKS)
    targets = sorted(d.subscription_id for d in st.deliveries.values())
    assert targets == sorted([all_events.id, balance_only.id])  # type: ignore[attr-defined]
    assert auth_only.id not in targets  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        webhooks.require_subscription(st, st.paywalls["pw_shared"], all_events.id)  # type: ignore[attr-defined]


def test_retry_schedule_doubles_from_30s_with_bounded_seeded_jitter() -> None:
    delays = [webhooks.retry_delay(7, "dly_000001", n) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        base = timedelta(seconds=30 * 2 ** (n - 1))
        assert base <= delay <= base * 1.1
    assert delays == [webhooks.retry_delay(7, "dly_000001", n) for n in range(1, 8)]
    assert delays != [webhooks.retry_delay(8, "dly_000001", n) for n in range(1, 8)]


def test_eight_attempts_at_most_then_error() -> None:
    st = state()
    new(st)
    balances.deposit(st, st.paywalls["pw_app"], "bob", "1", metadata=None, idempotency_key=None, now=T0)
    (delivery,) = st.deliveries.values()
    at = T0
    for n in range(1, 9):
        assert delivery.next_attempt_at is not None and webhooks.due(st, delivery.next_attempt_at) == [delivery]
        at = delivery.next_attempt_at
        webhooks.record_attempt(st, delivery, at=at, status_code=500, error=None)
        if n < 8:
            assert delivery.next_attempt_at == at + webhooks.retry_delay(7, delivery.id, n)
    assert delivery.status == "error" and len(delivery.attempts) == 8 and st.pending == set()
    assert st.subscriptions[delivery.subscription_id].consecutive_failures == 8


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_stop_statuses_end_at_once(status: int) -> None:
    st = state()
    new(st)
    balances.deposit(st, st.paywalls["pw_app"], "bob", "1", metadata=None, idempotency_key=None, now=T0)
    (delivery,) = st.deliveries.values()
    webhooks.record_attempt(st, delivery, at=T0, status_code=status, error=None)
    assert delivery.status == "error" and delivery.next_attempt_at is None and len(delivery.attempts) == 1


@pytest.mark.parametrize("status", [None, 408, 429, 500, 503, 302])
def test_other_failures_retry(status: int | None) -> None:
    st = state()
    new(st)
    balances.deposit(st, st.paywalls["pw_app"], "bob", "1", metadata=None, idempotency_key=None, now=T0)
    (delivery,) = st.deliveries.values()
    webhooks.record_attempt(st, delivery, at=T0, status_code=status, error="boom" if status is None else None)
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    webhooks.record_attempt(st, delivery, at=delivery.next_attempt_at, status_code=204, error=None)
    assert delivery.status == "success" and st.subscriptions[delivery.subscription_id].consecutive_failures == 0


def test_logs_filters_newest_first_and_limit() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    a = new(st)
    b = new(st, events=["paywall.balance.deposit.created"])
    for _ in range(3):
        balances.deposit(st, app, "bob", "1", metadata=None, idempotency_key=None, now=T0)
    balances.open_topup(st, app, "bob", now=T0, links=LINKS)
    everything = webhooks.logs(st, app, limit=100)
    assert [d.id for d in everything] == sorted((d.id for d in st.deliveries.values()), reverse=True)
    assert len(webhooks.logs(st, app, subscription_id=b.id, limit=100)) == 3  # type: ignore[attr-defined]
    assert len(webhooks.logs(st, app, event_type="paywall.balance.topup.link.created", limit=100)) == 1
    assert len(webhooks.logs(st, app, limit=2)) == 2
    first = webhooks.logs(st, app, subscription_id=a.id, limit=1)[0]  # type: ignore[attr-defined]
    webhooks.record_attempt(st, first, at=T0, status_code=200, error=None)
    assert [d.id for d in webhooks.logs(st, app, status="success", limit=100)] == [first.id]
    assert len(webhooks.logs(st, app, status="pending", limit=100)) == 6
    assert webhooks.logs(st, st.paywalls["pw_shared"], limit=100) == []


def test_delivery_body_matches_the_spec_and_is_signed_over_its_raw_bytes() -> None:
    st = state()
    sub = new(st, custom_headers={"X-Source": "pw"})
    balances.deposit(st, st.paywalls["pw_app"], "bob", "25", metadata={"paymentIntent": "pi_1"},
                     idempotency_key=None, now=T0)
    (delivery,) = st.deliveries.values()
    event = st.events[0]
    body = views.render_delivery_body(delivery, event, attempt=1, at=T0)
    parsed = json.loads(body)
    jsonschema.validate(parsed, delivery_schema())
    assert parsed["delivery"] == {"id": delivery.id, "subscriptionId": sub.id, "attempts": 1,  # type: ignore[attr-defined]
                                  "createdAt": "2026-01-01T12:00:00.000Z", "updatedAt": "2026-01-01T12:00:00.000Z"}
    assert parsed["event"]["data"] == {
        "paywallId": "pw_app", "ownerUserId": "owner_1", "walletUserId": "bob", "externalUserId": "bob",
        "amount": "25", "currency": "usd", "source": "api", "activityId": "act_000001"}
    assert parsed["event"]["metadata"] == {"paymentIntent": "pi_1"}
    headers = signing.delivery_headers(event_type=event.type, secret=sub.secret, body=body, at=T0,  # type: ignore[attr-defined]
                                       custom=sub.custom_headers)  # type: ignore[attr-defined]
    assert headers["X-Paywalls-Event"] == "paywall.balance.deposit.created@1.0"
    assert headers["X-Paywalls-Timestamp"] == "2026-01-01T12:00:00.000Z" and headers["X-Source"] == "pw"
    assert signing.verify(sub.secret, body, headers["X-Paywalls-Signature"])  # type: ignore[attr-defined]
    reserialised = json.dumps(parsed, indent=1).encode()
    assert not signing.verify(sub.secret, reserialised, headers["X-Paywalls-Signature"])  # type: ignore[attr-defined]
    assert not signing.verify(sub.secret, body, "\u00fc" + headers["X-Paywalls-Signature"][1:])  # type: ignore[attr-defined]
