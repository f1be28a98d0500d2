"""Invariants over everything a flow emits, not one sample (emulator only: webhook endpoints, billing and
the clock go through the control API). Every webhook of a whole lifecycle: delivered once each with a
unique id, in creation order per subscription, both signatures over the exact bytes, the envelope and the
event's schema, and the same set as the event log. Every balance change of a user: the deltas the answers
report add up to the final balance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import jsonschema
import pytest

from paywall_emulator.contract_tests.billing import Billing, parse
from paywall_emulator.contract_tests.client import Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import adjust, balances, need
from paywall_emulator.contract_tests.receiver import Receiver
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = [pytest.mark.writes,
              pytest.mark.emulator_only("webhook endpoints, billing and the clock of the /_emulator control API")]
ENVELOPE = {"id", "type", "created_at", "data"}


@pytest.fixture
def billing(api: Api, control: Control, new_email: Callable[[str], str]) -> Iterator[Billing]:
    control.reset()
    try:
        yield Billing(api, control, new_email)
    finally:
        control.reset()


def test_every_webhook_of_a_lifecycle_is_signed_unique_and_in_order(
        billing: Billing, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    secret = f"whsec_conform_{settings.run_id}"
    with Receiver() as receiver:
        billing.act("POST", "/webhooks/endpoints", {"url": receiver.url, "secret": secret})
        plan = billing.plan("stripe")
        email = new_email("flow")
        first = billing.buy(plan, email)
        sub, pay = first["subscription"], first["payment"]
        billing.move_to(parse(sub["current_period_end"]))  # a renewal
        billing.act("POST", f"/payments/{pay['id']}/refund", {"amount": 100})  # a partial refund
        billing.cancel(plan, email, sub["id"])
        billing.advance(timedelta(days=40))  # the cancellation at the period end
        owned = {p["id"] for p in billing.state()["paywalls"] if p["owner_id"] == billing.owner()}
        log = [e for e in billing.events() if e["data"]["paywall"]["id"] in owned]  # what the endpoint gets
        deliveries = receiver.until(len(log))
    ids = [json.loads(d.body)["id"] for d in deliveries]
    assert sorted(ids) == sorted(e["id"] for e in log), "the deliveries and the event log differ"
    bodies: dict[str, bytes] = {}
    for delivery, event_id in zip(deliveries, ids, strict=True):  # a repeated id repeats the same event
        assert bodies.setdefault(event_id, delivery.body) == delivery.body, f"two different events share {event_id}"
    by_subject: dict[str, list[str]] = {}
    for delivery in deliveries:
        expected = hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers.get("x-signature") == expected, "X-Signature is not HMAC-SHA256 of the exact bytes"
        assert delivery.headers.get("x-monetize-signature") == f"sha256={expected}", "X-Monetize-Signature is wrong"
        event = json.loads(delivery.body)
        assert set(event) == ENVELOPE, f"envelope fields {sorted(event)}, expected {sorted(ENVELOPE)}"
        errors = list(jsonschema.Draft202012Validator(contract.contract.webhook_schema(event["type"]))
                      .iter_errors(event))
        where = "/".join(map(str, errors[0].absolute_path)) if errors else ""
        assert not errors, f"{event['type']} {event['id']}: {errors[0].message} at /{where}"
        subject = (event["data"].get("subscription") or event["data"].get("payment") or {}).get("id", "-")
        by_subject.setdefault(subject, []).append(event["id"])
    order = [e["id"] for e in log]
    for subject, delivered in by_subject.items():
        assert delivered == [i for i in order if i in set(delivered)], (
            f"deliveries for {subject} out of creation order: {delivered}")
    flow = by_subject[sub["id"]]
    assert len(set(flow)) == len(flow), f"a stripe event id repeats: {flow}"
    assert [e["type"] for e in log if e["id"] in set(flow)] == [
        "payment.completed", "subscription.created", "payment.completed", "subscription.updated",
        "refund.created", "subscription.updated", "subscription.cancelled"]


def test_balance_deltas_add_up_to_the_final_balance(
        billing: Billing, api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    provider = need(settings.provider_id, "--paywall-provider-id", "a gateway provider of the tokenized paywall")
    plan = billing.plan("stripe", tokenized=True)
    email = new_email("ledger")
    session = billing.start(plan, email)
    user_id = billing.act("GET", f"/checkouts/{session}")["user_id"]
    start = balances(api, plan.paywall_id, user_id)["standard"]
    deltas: list[tuple[str, int]] = []

    def record(what: str, before: int, after: int) -> None:
        deltas.append((what, after - before))

    have = start
    for op, amount in (("credit", 7), ("debit", 3), ("credit", 1)):
        now = expect_ok(adjust(api, plan.paywall_id, user_id, "standard", amount, op))["count"]
        assert now == have + (amount if op == "credit" else -amount), f"{op} {amount}: balance {have} → {now}"
        record(f"{op} {amount}", have, now)
        have = now
    refused = expect_error(adjust(api, plan.paywall_id, user_id, "standard", have + 1, "debit"), 400, "insufficient")
    assert refused["available"] == have
    record("refused debit", have, balances(api, plan.paywall_id, user_id)["standard"])
    for _ in range(2):
        resp = api.get(f"/api/v1/api-gateway/{provider}/v1/models", key=None,
                       params={"paywall_id": plan.paywall_id}, headers={"X-User-ID": user_id})
        assert resp.status_code == 200 and resp.headers.get("X-Query-Type") == "standard", resp.text[:200]
        now = balances(api, plan.paywall_id, user_id)["standard"]
        record("gateway call", have, now)
        have = now
    withdrawn = expect_ok(api.post("/api/v1/withdraw-tokens", json={
        "paywall_id": plan.paywall_id, "user_id": user_id, "tokens": 1, "token_type": "standard"}))["remaining"]
    record("withdraw 1", have, withdrawn)
    have = withdrawn
    billing.act("POST", f"/checkouts/{session}/complete")
    now = balances(api, plan.paywall_id, user_id)["standard"]
    record("monthly payment", have, now)
    final = balances(api, plan.paywall_id, user_id)["standard"]
    total = sum(d for _, d in deltas)
    assert start + total == final, f"start {start} + deltas {deltas} = {start + total}, but the balance is {final}"
    assert [d for _, d in deltas] == [7, -3, 1, 0, -1, -1, -1, _grant(billing, plan.paywall_id)], deltas


def _grant(billing: Billing, paywall_id: str) -> Any:
    paywall = next(p for p in billing.state()["paywalls"] if p["id"] == paywall_id)
    return next(t["monthly"] for t in paywall["token_types"] if t["type"] == "standard")


def test_a_yearly_payment_grants_twelve_months_of_tokens(billing: Billing, api: Api,
                                                         new_email: Callable[[str], str]) -> None:
    plan = billing.plan("stripe", interval="year", tokenized=True)
    session = billing.start(plan, new_email("yearly"))
    user_id = billing.act("GET", f"/checkouts/{session}")["user_id"]
    before = balances(api, plan.paywall_id, user_id)["standard"]
    billing.act("POST", f"/checkouts/{session}/complete")
    after = balances(api, plan.paywall_id, user_id)["standard"]
    monthly = _grant(billing, plan.paywall_id)
    assert after - before == 12 * monthly, (
        f"a yearly payment granted {after - before} standard tokens ({before} → {after}), expected 12 × {monthly}")
    sub = billing.act("GET", f"/checkouts/{session}")["subscription_id"]
    billing.move_to(parse(billing.subscription(sub)["current_period_end"]))
    renewed = balances(api, plan.paywall_id, user_id)["standard"]
    assert renewed - after == 12 * monthly, f"the yearly renewal granted {renewed - after}, expected 12 × {monthly}"


def test_the_free_type_is_never_charged(billing: Billing, api: Api, settings: Settings,
                                        new_email: Callable[[str], str]) -> None:
    free = need(settings.free_provider_id, "--paywall-free-provider-id", "a provider of the free query type")
    plan = billing.plan("stripe", tokenized=True)
    user_id = billing.act("GET", f"/checkouts/{billing.start(plan, new_email('free'))}")["user_id"]
    before = balances(api, plan.paywall_id, user_id)
    for _ in range(2):
        resp = api.get(f"/api/v1/api-gateway/{free}/v1/models", key=None, params={"paywall_id": plan.paywall_id},
                       headers={"X-User-ID": user_id})
        assert resp.status_code == 200 and resp.headers.get("X-Query-Type") == "free", resp.text[:200]
    after = balances(api, plan.paywall_id, user_id)
    assert after == before, f"two calls of the free type changed the balances {before} → {after}"

