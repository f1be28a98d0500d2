"""PayKit's documented rules over HTTP: answers match the PayKit document, keys resolve as documented,
accounts are per project, the ledger never goes below zero, limits refuse at their edges, only a secret key
grants, the webhook checks Stripe's signature; on the emulator, a checkout's 24 h and a webhook's retry
(its clock). Read-only tests use GET only; the rest need --allow-writes (test projects only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from paywall_emulator.contract_tests.client import Control
from paywall_emulator.contract_tests.paykit.target import (
    PayKitTarget,
    at_once,
    conforms,
    need,
    refused,
    skip_unconfigured,
    stripe_signature,
)

INVALID_KEY = "Invalid API key"
MAX_PROJECT_NAME = 100  # spec createProject 400: the trimmed name is longer than 100 characters
SESSION_LIFETIME = timedelta(hours=24)  # spec: an open checkout session expires after 24 hours
FIRST_RETRY = timedelta(minutes=1)  # spec: a failed webhook is retried after 1 min, 5 min, 30 min, 2 h
writes = pytest.mark.writes


# --- reads -------------------------------------------------------------------------------------------


def test_access_answers_a_new_account_with_five_free_credits(paykit: PayKitTarget) -> None:
    user = paykit.user("access")
    resp = paykit.request("GET", "/api/v1/access", params={"userId": user})
    assert conforms(paykit, "getAccess", resp, 200) == {"userId": user, "plan": "free", "credits": 5,
                                                         "entitlements": []}


def test_access_without_user_id_is_400(paykit: PayKitTarget) -> None:
    resp = paykit.request("GET", "/api/v1/access")
    refused(paykit, "getAccess", resp, 400, "userId is required")


def test_an_unknown_key_is_401(paykit: PayKitTarget) -> None:
    key = f"pk_live_conform_unknown_{paykit.settings.run_id}"
    resp = paykit.request("GET", "/api/v1/access", params={"userId": paykit.user("k"), "key": key})
    refused(paykit, "getAccess", resp, 401, INVALID_KEY)
    resp = paykit.request("GET", "/api/v1/access", key=key, params={"userId": paykit.user("k")})
    refused(paykit, "getAccess", resp, 401, INVALID_KEY)


def test_the_header_key_wins_over_the_query_key(paykit: PayKitTarget) -> None:
    pk = need(paykit.settings.paykit_publishable_key, "--paykit-publishable-key", "a project's publishable key")
    resp = paykit.request("GET", "/api/v1/access", key=pk, params={"userId": paykit.user("h"), "key": "pk_bad"})
    conforms(paykit, "getAccess", resp, 200)


@pytest.mark.parametrize("operation", ["getAnalytics", "listAccounts"])
def test_dashboard_stats_add_up(paykit: PayKitTarget, operation: str) -> None:
    path = "/api/v1/analytics" if operation == "getAnalytics" else "/api/v1/accounts"
    body = conforms(paykit, operation, paykit.request("GET", path), 200)
    stats = body["stats"]
    assert stats["mrr"] == stats["pro"] * 19
    if operation == "listAccounts":
        accounts = body["accounts"]
        assert stats["total"] == len(accounts) and stats["free"] == stats["total"] - stats["pro"]
        assert stats["pro"] == sum(1 for a in accounts if a["plan"] == "pro")
        assert stats["creditsOutstanding"] == sum(a["credits"] for a in accounts)
        assert all(a["entitlements"] == (["pro"] if a["plan"] == "pro" else []) for a in accounts)
    else:
        assert len(body["series"]) == 14
    refused(paykit, operation, paykit.request("GET", path, params={"key": "pk_conform_nope"}), 401, INVALID_KEY)


def test_the_embed_script_is_served(paykit: PayKitTarget) -> None:
    resp = paykit.request("GET", "/embed.js")
    assert resp.status_code == 200 and "PayKit" in resp.text and "data-paykit-meter" in resp.text


# --- the ledger --------------------------------------------------------------------------------------


@writes
def test_meter_deducts_and_answers_the_remaining_balance(paykit: PayKitTarget) -> None:
    user = paykit.user("meter")
    body = conforms(paykit, "meterUsage", paykit.request("POST", "/api/v1/meter",
                                                           json={"userId": user, "event": "conform"}), 200)
    assert body == {"ok": True, "remaining": 4}
    assert paykit.credits(user) == 4


@writes
def test_meter_never_goes_below_zero(paykit: PayKitTarget) -> None:
    user = paykit.user("floor")
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform", "cost": 6})
    assert refused(paykit, "meterUsage", resp, 402, "Insufficient credits") == {
        "ok": False, "blocked": True, "remaining": 5, "error": "Insufficient credits"}
    assert paykit.credits(user) == 5
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform", "cost": 5})
    assert conforms(paykit, "meterUsage", resp, 200) == {"ok": True, "remaining": 0}
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform"})
    assert refused(paykit, "meterUsage", resp, 402)["remaining"] == 0
    assert paykit.credits(user) == 0


@writes
def test_concurrent_meters_never_overdraw(paykit: PayKitTarget) -> None:
    user = paykit.user("crowd")
    answers = at_once(paykit, 30, lambda http: paykit.request(
        "POST", "/api/v1/meter", http=http, json={"userId": user, "event": "conform"}))
    statuses = sorted(r.status_code for r in answers)
    ok, blocked = statuses.count(200), statuses.count(402)
    assert statuses == [200] * 5 + [402] * 25, f"{ok} of 30 concurrent meters on 5 credits answered 200, {blocked} 402"
    assert sorted(r.json()["remaining"] for r in answers if r.status_code == 200) == [0, 1, 2, 3, 4]
    assert paykit.credits(user) == 0


@writes
@pytest.mark.parametrize(("extra", "message"), [
    ({"event": ""}, "userId and event are required"),
    ({"event": "e" * 65}, "userId and event are required"),
    ({"cost": 0}, "cost must be a positive integer ≤ 1000000"),
    ({"cost": 1_000_001}, "cost must be a positive integer ≤ 1000000"),
    ({"costUsd": -1}, "costUsd must be a non-negative number ≤ 1000000"),
])
def test_meter_limits(paykit: PayKitTarget, extra: dict[str, object], message: str) -> None:
    user = paykit.user("limits")
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform", **extra})
    refused(paykit, "meterUsage", resp, 400, message)
    assert paykit.credits(user) == 5


@writes
def test_meter_limit_edges_are_accepted(paykit: PayKitTarget) -> None:
    user = paykit.user("edges")
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "e" * 64, "cost": 1})
    assert conforms(paykit, "meterUsage", resp, 200)["remaining"] == 4


@writes
def test_a_publishable_key_never_grants_credits(paykit: PayKitTarget) -> None:
    pk = need(paykit.settings.paykit_publishable_key, "--paykit-publishable-key",
              "a publishable key of a project other than the demo one")
    user = paykit.user("grant")
    resp = paykit.request("POST", "/api/v1/credits", key=pk, json={"userId": user, "amount": 100, "plan": "pro"})
    refused(paykit, "grantCredits", resp, 403, "Granting credits requires your secret key (server-side)")
    assert conforms(paykit, "getAccess", paykit.request("GET", "/api/v1/access", key=pk, params={"userId": user}),
                    200) == {"userId": user, "plan": "free", "credits": 5, "entitlements": []}
    sk = need(paykit.settings.paykit_secret_key, "--paykit-secret-key", "the project's secret key")
    resp = paykit.request("POST", "/api/v1/credits", key=sk, json={"userId": user, "amount": 100, "plan": "pro"})
    assert conforms(paykit, "grantCredits", resp, 200) == {"userId": user, "plan": "pro", "credits": 105,
                                                            "entitlements": ["pro"]}


@writes
def test_the_body_key_wins_over_the_query_key(paykit: PayKitTarget) -> None:
    pk = need(paykit.settings.paykit_publishable_key, "--paykit-publishable-key",
              "a publishable key of a project other than the demo one")
    user = paykit.user("body_key")
    resp = paykit.request("POST", "/api/v1/meter", params={"key": "pk_conform_bad"},
                          json={"userId": user, "event": "conform", "key": pk})
    assert conforms(paykit, "meterUsage", resp, 200) == {"ok": True, "remaining": 4}, "the body key decides"
    assert paykit.credits(user, key=pk) == 4
    assert paykit.credits(user) == 5, "the demo project's account of that user id is untouched"


@writes
def test_the_demo_project_grants_without_the_secret_key(paykit: PayKitTarget) -> None:
    user = paykit.user("demo_grant")
    resp = paykit.request("POST", "/api/v1/credits", key="pk_live_demo", json={"userId": user, "amount": 10})
    assert conforms(paykit, "grantCredits", resp, 200) == {"userId": user, "plan": "free", "credits": 15,
                                                            "entitlements": []}
    resp = paykit.request("POST", "/api/v1/credits", json={"userId": user, "plan": "pro"})
    assert conforms(paykit, "grantCredits", resp, 200) == {"userId": user, "plan": "pro", "credits": 15,
                                                            "entitlements": ["pro"]}


@writes
def test_credits_limits(paykit: PayKitTarget) -> None:
    user = paykit.user("credit_limits")
    for extra, message in [({"amount": 0}, "amount must be a positive integer ≤ 1000000"),
                           ({"amount": 1_000_001}, "amount must be a positive integer ≤ 1000000"),
                           ({"plan": "gold"}, "unknown plan")]:
        resp = paykit.request("POST", "/api/v1/credits", json={"userId": user, **extra})
        refused(paykit, "grantCredits", resp, 400, message)
    assert paykit.credits(user) == 5


# --- billing -----------------------------------------------------------------------------------------


@writes
def test_the_webhook_refuses_a_bad_signature(paykit: PayKitTarget) -> None:
    user = f"default:{paykit.user('hook')}"
    payload = json.dumps({"id": "evt_conform", "object": "event", "type": "checkout.session.completed",
                          "created": 0, "data": {"object": {"metadata": {"userId": user,
                                                                           "packCredits": "100"}}}}).encode()
    for headers in [{"Stripe-Signature": stripe_signature(payload, "whsec_conform_wrong")}, {}]:
        resp = paykit.request("POST", "/api/v1/webhook", data=payload, headers=headers)
        skip_unconfigured(resp)
        refused(paykit, "receiveStripeWebhook", resp, 400, "Invalid signature")
    assert paykit.credits(paykit.user("hook")) == 5


@writes
def test_a_signed_webhook_grants_the_pack(paykit: PayKitTarget) -> None:
    secret = need(paykit.settings.paykit_webhook_secret, "--paykit-webhook-secret",
                  "the target's Stripe webhook secret (the emulator's: the demo project's)")
    user = paykit.user("signed")
    payload = json.dumps({"id": "evt_conform", "object": "event", "type": "checkout.session.completed",
                          "created": 0, "data": {"object": {"metadata": {"userId": f"default:{user}",
                                                                           "packCredits": "100"}}}}).encode()
    stale = paykit.request("POST", "/api/v1/webhook", data=payload,
                           headers={"Stripe-Signature": stripe_signature(payload, secret, 1_000_000_000)})
    skip_unconfigured(stale)
    refused(paykit, "receiveStripeWebhook", stale, 400, "Invalid signature")
    resp = paykit.request("POST", "/api/v1/webhook", data=payload,
                          headers={"Stripe-Signature": stripe_signature(payload, secret)})
    assert conforms(paykit, "receiveStripeWebhook", resp, 200) == {"received": True}
    assert paykit.credits(user) == 105


def _event(event_type: str, metadata: dict[str, str]) -> bytes:
    return json.dumps({"id": "evt_conform", "object": "event", "type": event_type, "created": 0,
                       "data": {"object": {"metadata": metadata}}}).encode()


@writes
def test_a_signed_webhook_sets_pro_and_a_deleted_subscription_reverts_to_free(paykit: PayKitTarget) -> None:
    secret = need(paykit.settings.paykit_webhook_secret, "--paykit-webhook-secret",
                  "the target's Stripe webhook secret (the emulator's: the demo project's)")
    user = paykit.user("plan_hook")
    for event_type, metadata, plan in [
            ("checkout.session.completed", {"userId": f"default:{user}", "plan": "pro"}, "pro"),
            ("customer.subscription.deleted", {"userId": f"default:{user}", "plan": "pro"}, "free")]:
        payload = _event(event_type, metadata)
        resp = paykit.request("POST", "/api/v1/webhook", data=payload,
                              headers={"Stripe-Signature": stripe_signature(payload, secret)})
        skip_unconfigured(resp)
        assert conforms(paykit, "receiveStripeWebhook", resp, 200) == {"received": True}
        account = conforms(paykit, "getAccess", paykit.request("GET", "/api/v1/access", params={"userId": user}),
                           200)
        assert (account["plan"], account["entitlements"], account["credits"]) == (
            plan, ["pro"] if plan == "pro" else [], 5), f"after {event_type}"


@writes
@pytest.mark.parametrize("kind", ["credits", "pro"])
def test_checkout_answers_a_url(paykit: PayKitTarget, kind: str) -> None:
    resp = paykit.request("POST", "/api/v1/checkout", json={"userId": paykit.user("checkout"), "kind": kind})
    skip_unconfigured(resp)
    assert conforms(paykit, "createCheckout", resp, 200)["url"].startswith("http")
    bad = paykit.request("POST", "/api/v1/checkout", json={"userId": paykit.user("checkout"), "kind": "gift"})
    refused(paykit, "createCheckout", bad, 400, 'kind must be "credits" or "pro"')


@writes
@pytest.mark.emulator_only("the fake Stripe's control API")
def test_paying_a_checkout_grants_the_pack_through_the_webhook(paykit: PayKitTarget) -> None:
    user = paykit.user("paid")
    url = conforms(paykit, "createCheckout", paykit.request(
        "POST", "/api/v1/checkout", json={"userId": user, "kind": "credits"}), 200)["url"]
    session_id = url.rstrip("/").rsplit("/", 1)[1]
    done = paykit.request("POST", f"/_emulator/paykit/checkout/{session_id}/complete")
    assert done.status_code == 200 and done.json()["status"] == "complete", done.text
    assert paykit.credits(user) == 105


@writes
@pytest.mark.emulator_only("a project created for the run")
def test_secure_metering_refuses_the_publishable_key(paykit: PayKitTarget) -> None:
    project = conforms(paykit, "createProject", paykit.request(
        "POST", "/api/v1/projects", json={"name": f"conform {paykit.settings.run_id}"}), 200)
    toggled = paykit.request("PATCH", "/api/v1/projects", json={"secureMetering": True, "key": project["secretKey"]})
    assert conforms(paykit, "updateProject", toggled, 200) == {"id": project["id"], "secureMetering": True}
    user = paykit.user("secure")
    resp = paykit.request("POST", "/api/v1/meter", key=project["publishableKey"],
                          json={"userId": user, "event": "conform"})
    refused(paykit, "meterUsage", resp, 403, "This project requires the secret key to meter (server-side)")
    resp = paykit.request("POST", "/api/v1/meter", key=project["secretKey"], json={"userId": user, "event": "conform"})
    assert conforms(paykit, "meterUsage", resp, 200) == {"ok": True, "remaining": 4}


# --- limits at their edges, and time ---------------------------------------------------------------


@writes
def test_a_whole_number_cost_written_as_a_float_is_that_integer(paykit: PayKitTarget) -> None:
    user = paykit.user("float_cost")
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform", "cost": 2.0})
    assert conforms(paykit, "meterUsage", resp, 200) == {"ok": True, "remaining": 3}, "cost 2.0 is the integer 2"
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform", "cost": 1.5})
    refused(paykit, "meterUsage", resp, 400, "cost must be a positive integer ≤ 1000000")
    assert paykit.credits(user) == 3


@writes
@pytest.mark.emulator_only("a project created for the run")
def test_a_project_name_of_100_characters_is_accepted_and_101_refused(paykit: PayKitTarget) -> None:
    name = f"conform {paykit.settings.run_id} ".ljust(MAX_PROJECT_NAME, "n")
    made = paykit.request("POST", "/api/v1/projects", json={"name": f"  {name}  "})
    assert conforms(paykit, "createProject", made, 200)["name"] == name, "the trimmed name of 100 characters"
    over = paykit.request("POST", "/api/v1/projects", json={"name": name + "n"})
    refused(paykit, "createProject", over, 400, "name must be ≤ 100 characters")


@pytest.fixture
def clock(paykit: PayKitTarget) -> Iterator[Control]:
    control = paykit.control()
    control.reset()
    now = datetime.fromisoformat(control.request("GET", "/clock")["now"].replace("Z", "+00:00"))
    control.request("POST", "/clock", {"now": _iso(now + timedelta(seconds=1))})  # frozen from here on
    try:
        yield control
    finally:
        control.reset()


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _advance(control: Control, delta: timedelta) -> None:
    control.request("POST", "/clock/advance", {"seconds": delta.total_seconds()})


def _pack_checkout(paykit: PayKitTarget, user: str) -> str:
    url = conforms(paykit, "createCheckout", paykit.request(
        "POST", "/api/v1/checkout", json={"userId": user, "kind": "credits"}), 200)["url"]
    return str(url.rstrip("/").rsplit("/", 1)[1])


@writes
@pytest.mark.emulator_only("the clock and the fake Stripe's control API")
def test_a_checkout_session_can_be_paid_for_24_hours_then_expires(paykit: PayKitTarget, clock: Control) -> None:
    early, late = paykit.user("expiry_early"), paykit.user("expiry_late")
    sessions = {user: _pack_checkout(paykit, user) for user in (early, late)}
    _advance(clock, SESSION_LIFETIME - timedelta(seconds=1))
    done = paykit.request("POST", f"/_emulator/paykit/checkout/{sessions[early]}/complete")
    assert done.status_code == 200 and done.json()["status"] == "complete", f"paid 1 s before 24 h: {done.text}"
    assert paykit.credits(early) == 105
    _advance(clock, timedelta(seconds=1))
    expired = paykit.request("POST", f"/_emulator/paykit/checkout/{sessions[late]}/complete")
    assert (expired.status_code, expired.json().get("error")) == (409, "This checkout session is expired"), (
        f"paid at 24 h: {expired.status_code} {expired.text[:200]}, expected 409 (a session lives 24 h)")
    assert paykit.credits(late) == 5


@writes
@pytest.mark.emulator_only("the clock, a fault on PayKit's webhook and the fake Stripe's event log")
def test_a_failed_webhook_is_retried_one_minute_later(paykit: PayKitTarget, clock: Control) -> None:
    clock.request("POST", "/faults", {"operation_id": "receiveStripeWebhook", "status": 500, "times": 2})
    first, second = paykit.user("retry_first"), paykit.user("retry_second")

    def attempts(session: str) -> list[tuple[int | None, datetime]]:
        events = clock.request("GET", "/paykit/events")["events"]
        mine = [e for e in events if session in e["payload"] and e["type"] == "checkout.session.completed"]
        assert len(mine) == 1, f"{len(mine)} checkout.session.completed events for {session}"
        return [(a["status"], datetime.fromisoformat(a["at"].replace("Z", "+00:00"))) for a in mine[0]["attempts"]]

    early = _pack_checkout(paykit, first)
    assert paykit.request("POST", f"/_emulator/paykit/checkout/{early}/complete").status_code == 200
    (status, failed_at), = attempts(early)
    assert (status, paykit.credits(first)) == (500, 5), "the first attempt failed: nothing granted yet"
    _advance(clock, FIRST_RETRY / 2)
    late = _pack_checkout(paykit, second)  # paying it sends its own first attempt, which fails too
    assert paykit.request("POST", f"/_emulator/paykit/checkout/{late}/complete").status_code == 200
    assert attempts(early) == [(500, failed_at)], "retried before its minute was up"
    _advance(clock, FIRST_RETRY / 2)
    assert attempts(early) == [(500, failed_at), (200, failed_at + FIRST_RETRY)], "retried 1 min after the failure"
    assert (paykit.credits(first), paykit.credits(second)) == (105, 5)
    _advance(clock, FIRST_RETRY / 2)
    assert attempts(late) == [(500, failed_at + FIRST_RETRY / 2), (200, failed_at + FIRST_RETRY * 3 / 2)]
    assert paykit.credits(second) == 105


@writes
def test_the_same_user_id_in_two_projects_is_two_accounts(paykit: PayKitTarget) -> None:
    pk = need(paykit.settings.paykit_publishable_key, "--paykit-publishable-key",
              "a publishable key of a project other than the demo one")
    user = paykit.user("tenants")
    resp = paykit.request("POST", "/api/v1/meter", json={"userId": user, "event": "conform", "cost": 2})
    assert conforms(paykit, "meterUsage", resp, 200)["remaining"] == 3
    assert paykit.credits(user, key=pk) == 5, "the other project's account of the same user id is its own"
    resp = paykit.request("POST", "/api/v1/meter", key=pk, json={"userId": user, "event": "conform"})
    assert conforms(paykit, "meterUsage", resp, 200)["remaining"] == 4
    assert paykit.credits(user) == 3, "metering in one project leaves the other's account alone"
