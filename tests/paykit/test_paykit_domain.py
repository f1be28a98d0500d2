"""PayKit's pure rules without HTTP: key lookup and rights, the ledger's limits and atomicity, analytics,
projects, the fake Stripe's lifecycle on the clock, the webhook's verification and effects, and the world
section loader."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from paywall_emulator.engine.ids import IdFactory
from paywall_emulator.products.paykit import signing
from paywall_emulator.products.paykit.delivery import serialised
from paywall_emulator.products.paykit.domain import analytics, billing, keys, ledger, outbox, projects, webhook
from paywall_emulator.products.paykit.errors import PayKitError
from paywall_emulator.products.paykit.state import PayKitState
from paywall_emulator.products.paykit.world import WorldSectionError, build, load

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SECTION = {
    "projects": [{"id": "proj_acme", "name": "Acme", "publishableKey": "pk_live_acme", "secretKey": "sk_live_acme",
                  "webhookSecret": "whsec_acme", "baseUrl": "https://acme.test"},
                 {"id": "proj_safe", "publishableKey": "pk_live_safe", "secretKey": "sk_live_safe",
                  "secureMetering": True}],
    "accounts": [{"project": "proj_acme", "userId": "pro_user", "plan": "pro", "credits": 40}],
}


def world() -> PayKitState:
    return build(SECTION)


def refusal(exc: pytest.ExceptionInfo[PayKitError]) -> tuple[int, str]:
    return exc.value.http_status, exc.value.message


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "body", "query", "expected"), [
    ("pk_h", {"key": "pk_b"}, "pk_q", "pk_h"),
    (None, {"key": "pk_b"}, "pk_q", "pk_b"),
    ("", {"key": "pk_b"}, "pk_q", "pk_b"),  # an empty header does not count
    (None, {"key": 7}, "pk_q", "pk_q"),  # a non-string body key is ignored
    (None, {"key": ""}, "pk_q", ""),  # an empty string body key wins (and means the demo project)
    (None, [], None, None),
])
def test_key_lookup_order(header: str | None, body: object, query: str | None, expected: str | None) -> None:
    assert keys.raw_key(header=header, body=body, query=query) == expected


def test_no_key_is_the_demo_project_and_an_unknown_key_is_401() -> None:
    state = world()
    assert keys.resolve(state, None).project.id == "default"
    assert keys.resolve(state, "").is_demo
    caller = keys.resolve(state, "sk_live_acme")
    assert (caller.project.id, caller.secret) == ("proj_acme", True)
    assert keys.resolve(state, "pk_live_acme").secret is False
    with pytest.raises(PayKitError) as exc:
        keys.resolve(state, "pk_live_nope")
    assert refusal(exc) == (401, "Invalid API key")


# --- ledger ------------------------------------------------------------------------------------


def test_first_touch_creates_five_credits_free() -> None:
    state = world()
    acct = ledger.account(state, "proj_acme", "u1")
    assert (acct.credits, acct.plan, acct.entitlements, acct.scoped_id) == (5, "free", [], "proj_acme:u1")
    assert ledger.account(state, "proj_acme", "u1") is acct
    assert ledger.account(state, "default", "u1") is not acct  # accounts are per project


def test_meter_deducts_until_blocked_and_never_below_zero() -> None:
    state = world()
    caller = keys.resolve(state, "pk_live_acme")
    results = [ledger.meter(state, NOW, caller, "u", "image_gen").remaining for _ in range(5)]
    assert results == [4, 3, 2, 1, 0]
    with pytest.raises(PayKitError) as exc:
        ledger.meter(state, NOW, caller, "u", "image_gen")
    assert refusal(exc) == (402, "Insufficient credits")
    assert exc.value.extra == {"ok": False, "blocked": True, "remaining": 0}
    assert len([e for e in state.usage if e.kind == "meter"]) == 5


def test_a_blocked_meter_deducts_nothing() -> None:
    state = world()
    caller = keys.resolve(state, None)
    with pytest.raises(PayKitError) as exc:
        ledger.meter(state, NOW, caller, "u", "hd", cost=6)
    assert exc.value.extra["remaining"] == 5
    assert ledger.account(state, "default", "u").credits == 5
    assert ledger.meter(state, NOW, caller, "u", "hd", cost=5).remaining == 0


@pytest.mark.parametrize(("event", "cost", "cost_usd", "message"), [
    ("", 1, None, "userId and event are required"),
    ("   ", 1, None, "userId and event are required"),
    ("e" * 65, 1, None, "userId and event are required"),
    ("e", 0, None, "cost must be a positive integer ≤ 1000000"),
    ("e", 1_000_001, None, "cost must be a positive integer ≤ 1000000"),
    ("e", 1.5, None, "cost must be a positive integer ≤ 1000000"),
    ("e", True, None, "cost must be a positive integer ≤ 1000000"),
    ("e", 1, -0.01, "costUsd must be a non-negative number ≤ 1000000"),
    ("e", 1, 1_000_000.5, "costUsd must be a non-negative number ≤ 1000000"),
])
def test_meter_limits(event: str, cost: int, cost_usd: float | None, message: str) -> None:
    state = world()
    with pytest.raises(PayKitError) as exc:
        ledger.meter(state, NOW, keys.resolve(state, None), "u", event, cost=cost, cost_usd=cost_usd)
    assert refusal(exc) == (400, message)
    assert "default:u" not in state.accounts and state.usage == []


def test_meter_limit_edges_are_accepted() -> None:
    state = world()
    caller = keys.resolve(state, "sk_live_acme")
    ledger.grant(state, NOW, caller, "u", amount=1_000_000)
    assert ledger.meter(state, NOW, caller, "u", "e", cost=1).remaining == 1_000_004
    assert ledger.meter(state, NOW, caller, "u", "e" * 64, cost=1_000_000, cost_usd=0).remaining == 4
    assert ledger.meter(state, NOW, caller, "u", "e", cost=1.0, cost_usd=1_000_000).remaining == 3  # type: ignore[arg-type]


def test_secure_metering_needs_the_secret_key_except_on_the_demo_project() -> None:
    state = world()
    with pytest.raises(PayKitError) as exc:
        ledger.meter(state, NOW, keys.resolve(state, "pk_live_safe"), "u", "e")
    assert refusal(exc) == (403, "This project requires the secret key to meter (server-side)")
    assert "proj_safe:u" not in state.accounts
    assert ledger.meter(state, NOW, keys.resolve(state, "sk_live_safe"), "u", "e").remaining == 4
    state.projects["default"].secure_metering = True
    assert ledger.meter(state, NOW, keys.resolve(state, "pk_live_demo"), "u", "e").remaining == 4


def test_grant_rules() -> None:
    state = world()
    with pytest.raises(PayKitError) as exc:
        ledger.grant(state, NOW, keys.resolve(state, "pk_live_acme"), "u", amount=10)
    assert refusal(exc) == (403, "Granting credits requires your secret key (server-side)")
    acct = ledger.grant(state, NOW, keys.resolve(state, "pk_live_demo"), "u", amount=100, plan="pro")
    assert (acct.credits, acct.plan, acct.entitlements) == (105, "pro", ["pro"])
    acct = ledger.grant(state, NOW, keys.resolve(state, "sk_live_acme"), "u", plan="free")
    assert (acct.credits, acct.plan, acct.entitlements) == (5, "free", [])
    for amount, plan, message in [(0, None, "amount must be a positive integer ≤ 1000000"),
                                  (1_000_001, None, "amount must be a positive integer ≤ 1000000"),
                                  (None, "gold", "unknown plan")]:
        with pytest.raises(PayKitError) as exc:
            ledger.grant(state, NOW, keys.resolve(state, "sk_live_acme"), "v", amount=amount, plan=plan)
        assert refusal(exc) == (400, message)
    assert "proj_acme:v" not in state.accounts


# --- analytics ---------------------------------------------------------------------------------


def test_analytics_numbers() -> None:
    state = world()
    acme = keys.resolve(state, "sk_live_acme")
    ledger.grant(state, NOW - timedelta(days=31), acme, "a", amount=10)  # last month: not sold this month
    ledger.meter(state, NOW - timedelta(days=31), acme, "a", "old_event")
    ledger.meter(state, NOW - timedelta(days=1), acme, "b", "image")
    for name in ["chat", "chat", "tts", "chat", "x", "y"]:
        ledger.meter(state, NOW, acme, "a", name, cost_usd=0.25)
    ledger.grant(state, NOW, acme, "b", amount=100, plan="pro")
    got = analytics.analytics(state, NOW, "proj_acme")
    assert got.metered_this_month == 7
    assert got.credits_sold_this_month == 100
    assert got.cost_usd == 1.5
    assert got.revenue_usd == 100 * 0.09
    assert got.margin_pct == 83.3  # (9 - 1.5) / 9 = 83.33 %
    assert got.top_events == [("chat", 3), ("old_event", 1), ("image", 1), ("tts", 1), ("x", 1)]
    assert [d.day.day for d in got.series] == [18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]
    assert [(d.metered, d.granted) for d in got.series[-2:]] == [(1, 0), (6, 100)]
    # newest first, also among the eight entries of the one instant NOW (the plan is set before the grant)
    assert [(e.kind, e.name) for e in got.recent] == [("grant", "credits"), ("plan", "pro"), ("meter", "y"),
                                                     ("meter", "x"), ("meter", "chat"), ("meter", "tts")]
    # pro_user (world: pro, 40), a (5 + 10 - 7), b (5 - 1 + 100, now pro)
    assert got.stats == analytics.Stats(total=3, pro=2, mrr=38, credits_outstanding=40 + 8 + 104)


def test_margin_is_zero_without_revenue() -> None:
    state = world()
    ledger.meter(state, NOW, keys.resolve(state, None), "a", "chat", cost_usd=3)
    got = analytics.analytics(state, NOW, "default")
    assert (got.revenue_usd, got.net_usd, got.margin_pct) == (0, -3, 0)


# --- projects ----------------------------------------------------------------------------------


def test_projects_create_list_and_secure_metering() -> None:
    state, ids = world(), IdFactory(7)
    project = projects.create(state, ids, "demo", {"name": "  Mine  "})
    assert project.name == "Mine" and project.publishable_key.startswith("pk_live_")
    assert len(project.publishable_key) == len("pk_live_") + 32 and len(project.secret_key) == len("sk_live_") + 48
    assert projects.create(state, ids, "demo", None).name == "Untitled project"
    with pytest.raises(PayKitError) as exc:
        projects.create(state, ids, "demo", {"name": "x" * 101})
    assert refusal(exc) == (400, "name must be ≤ 100 characters")
    assert projects.create(state, ids, "demo", {"name": "x" * 100}).name == "x" * 100
    assert [p.name for p in projects.list_projects(state, "demo")][-3:] == ["Mine", "Untitled project", "x" * 100]
    assert "default" not in {p.id for p in projects.list_projects(state, "demo")}
    with pytest.raises(PayKitError) as exc:
        projects.set_secure_metering(state, project.publishable_key, {"secureMetering": True})
    assert refusal(exc) == (401, "Secret key required")
    with pytest.raises(PayKitError) as exc:
        projects.set_secure_metering(state, project.secret_key, {"secureMetering": "yes"})
    assert refusal(exc) == (400, "secureMetering (boolean) is required")
    with pytest.raises(PayKitError) as exc:
        projects.set_secure_metering(state, "sk_live_nope", {"secureMetering": True})
    assert refusal(exc) == (401, "Invalid secret key")
    assert projects.set_secure_metering(state, project.secret_key, {"secureMetering": True}).secure_metering


def test_sign_in_when_required() -> None:
    state = world()
    assert projects.owner(state, None, refusal="x") == "demo"
    state.auth_required = True
    with pytest.raises(PayKitError) as exc:
        projects.owner(state, "Basic abc", refusal="Not signed in")
    assert refusal(exc) == (401, "Not signed in")
    assert projects.owner(state, "Bearer user_9", refusal="x") == "user_9"


# --- signing and the webhook -------------------------------------------------------------------


def test_signature_verified_by_the_stripe_library() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}}).encode()
    header = signing.header(payload, "whsec_abc", int(NOW.timestamp()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("time.time", lambda: NOW.timestamp())
        event = stripe.Webhook.construct_event(payload.decode(), header, "whsec_abc")
        assert event["id"] == "evt_1"
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload.decode(), header, "whsec_other")
    assert signing.verify(payload, header, "whsec_abc", NOW)
    assert not signing.verify(payload, header, "whsec_other", NOW)
    assert not signing.verify(payload + b" ", header, "whsec_abc", NOW)
    assert signing.verify(payload, header, "whsec_abc", NOW + timedelta(seconds=300))
    assert not signing.verify(payload, header, "whsec_abc", NOW + timedelta(seconds=301))
    assert not signing.verify(payload, None, "whsec_abc", NOW)
    assert not signing.verify(payload, "t=abc,v1=00", "whsec_abc", NOW)
    two = f"t={int(NOW.timestamp())},v1=00,v1={signing.signature(payload, 'whsec_abc', int(NOW.timestamp()))}"
    assert signing.verify(payload, two, "whsec_abc", NOW)


_PAYLOAD = json.dumps({"id": "evt_2", "object": "event", "type": "x", "data": {"object": {}}}).encode()
_T = int(NOW.timestamp())
_SIG = signing.signature(_PAYLOAD, "whsec_abc", _T)


@pytest.mark.parametrize("header", [
    pytest.param(f"t={_T},v1={_SIG}", id="valid"),
    pytest.param(f"t={_T},v1={signing.signature(_PAYLOAD, 'whsec_other', _T)}", id="other-secret"),
    pytest.param(f"t={_T},v1={signing.signature(_PAYLOAD + b' ', 'whsec_abc', _T)}", id="other-payload"),
    pytest.param(f"t={_T - 300},v1={signing.signature(_PAYLOAD, 'whsec_abc', _T - 300)}", id="at-tolerance"),
    pytest.param(f"t={_T - 301},v1={signing.signature(_PAYLOAD, 'whsec_abc', _T - 301)}", id="past-tolerance"),
    pytest.param(f"t={_T + 3600},v1={signing.signature(_PAYLOAD, 'whsec_abc', _T + 3600)}", id="future"),
    pytest.param(f"t={_T + 1},v1={_SIG}", id="other-timestamp"),  # the signature of another timestamp
    pytest.param(f"t={_T},v1=00,v1={_SIG}", id="rotated-secret"),  # several v1 entries (a rotated secret)
    pytest.param(f"v1={_SIG},t={_T}", id="any-order"),
    pytest.param(f"t={_T},v0={_SIG}", id="v0-only"),
    pytest.param(f"t={_T}, v1={_SIG}", id="space-after-comma"),  # a space: names no v1
    pytest.param(f" t={_T},v1={_SIG}", id="leading-space"),
    pytest.param(f"t={_T},v1={_SIG}=", id="value-then-equals"),  # a value ends at its next '='
    pytest.param(f"t={_T},v1={_SIG.upper()}", id="upper-hex"),
    pytest.param(f"t={_T},v1={_SIG},junk", id="stray-item"),
    pytest.param(f"v1={_SIG}", id="no-timestamp"),
    pytest.param(f"t={_T}", id="no-signature"),
    pytest.param(f"t=,v1={_SIG}", id="empty-timestamp"),
    pytest.param(f"t=now,v1={_SIG}", id="word-timestamp"),
    pytest.param("", id="empty"),
    pytest.param(f"{_T},{_SIG}", id="no-names"),
])
def test_signature_checks_agree_with_the_stripe_library(header: str) -> None:
    """Whatever `stripe.Webhook.construct_event` accepts the webhook accepts, and nothing else."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("time.time", lambda: NOW.timestamp())
        try:
            stripe.Webhook.construct_event(_PAYLOAD.decode(), header, "whsec_abc")
            library = True
        except stripe.SignatureVerificationError:
            library = False
    assert signing.verify(_PAYLOAD, header, "whsec_abc", NOW) is library


def test_headers_the_stripe_library_signs_are_accepted() -> None:
    header = stripe.WebhookSignature.generate_signature_header(_PAYLOAD.decode(), "whsec_abc", timestamp=_T)
    assert signing.verify(_PAYLOAD, header, "whsec_abc", NOW)
    assert header == signing.header(_PAYLOAD, "whsec_abc", _T)


def _paid(state: PayKitState, ids: IdFactory, kind: str) -> billing.CheckoutSession:
    caller = keys.resolve(state, "pk_live_acme")
    session = billing.start_checkout(state, ids, NOW, caller, "u", kind, origin="http://emu")  # type: ignore[arg-type]
    return billing.pay_checkout(state, ids, NOW, session.id)


def _deliver_all(state: PayKitState, now: datetime) -> list[str]:
    done = []
    for event in state.pending_events():
        secret = webhook.secret_for(state, event.project_id)
        payload = serialised(event)
        header = signing.header(payload, secret, int(now.timestamp()))
        done.append(webhook.receive(state, now, payload, header))
        outbox.finish(state, event, now, 200, "{}")
    return done


def test_checkout_pack_and_pro_through_the_webhook() -> None:
    state, ids = world(), IdFactory(1)
    session = _paid(state, ids, "credits")
    assert session.success_url == "https://acme.test/?paid=1" and session.cancel_url == "https://acme.test/?canceled=1"
    assert session.webhook_url == "http://emu/api/v1/webhook"
    assert ledger.account(state, "proj_acme", "u").credits == 5  # nothing until the webhook runs
    assert _deliver_all(state, NOW) == ["checkout.session.completed"]
    acct = ledger.account(state, "proj_acme", "u")
    assert (acct.credits, acct.plan, acct.stripe_customer_id) == (105, "free", None)
    pro = _paid(state, ids, "pro")
    payload = json.loads(serialised(state.events[next(reversed(state.events))]))
    assert payload["data"]["object"]["metadata"] == {"userId": "proj_acme:u", "plan": "pro"}
    assert payload["data"]["object"]["amount_total"] == 1900
    _deliver_all(state, NOW)
    assert (acct.plan, acct.entitlements, acct.stripe_customer_id) == ("pro", ["pro"], pro.customer_id)
    with pytest.raises(PayKitError) as exc:
        billing.pay_checkout(state, ids, NOW, pro.id)
    assert exc.value.http_status == 409


def test_pro_renews_monthly_and_ends_at_period_end() -> None:
    state, ids = world(), IdFactory(2)
    session = _paid(state, ids, "pro")
    _deliver_all(state, NOW)
    sub = state.subscriptions[str(session.subscription_id)]
    assert sub.current_period_end == datetime(2026, 4, 30, 12, tzinfo=UTC)  # Mar 31 → Apr 30 → May 31
    assert billing.next_due(state) == NOW + timedelta(hours=24) or billing.next_due(state) == sub.current_period_end
    billing.run_due(state, ids, datetime(2026, 6, 1, tzinfo=UTC))
    assert sub.renewals == 2 and sub.current_period_end == datetime(2026, 6, 30, 12, tzinfo=UTC)
    assert [e.type for e in state.pending_events()] == ["invoice.paid", "invoice.paid"]
    billing.cancel_subscription(state, ids, NOW, sub.id, at_period_end=True)
    billing.run_due(state, ids, datetime(2026, 7, 1, tzinfo=UTC))
    assert sub.status == "canceled" and sub.ended_at == datetime(2026, 6, 30, 12, tzinfo=UTC)
    assert state.active_subscriptions == {} and billing.next_due(state) is None
    later = datetime(2026, 7, 1, tzinfo=UTC)
    assert _deliver_all(state, later)[-1] == "customer.subscription.deleted"
    assert ledger.account(state, "proj_acme", "u").plan == "free"
    with pytest.raises(PayKitError) as exc:
        billing.cancel_subscription(state, ids, later, sub.id)
    assert exc.value.http_status == 409


def test_an_event_keeps_what_was_true_when_it_happened() -> None:
    """The domain records a snapshot, no bytes; the payload, rendered when the event is first sent, shows
    the subscription as it was at the event, whatever happened to it since, and is then kept."""
    state, ids = world(), IdFactory(7)
    sub = state.subscriptions[str(_paid(state, ids, "pro").subscription_id)]
    billing.cancel_subscription(state, ids, NOW, sub.id, at_period_end=True)
    billing.run_due(state, ids, sub.current_period_end)
    paid, updated, deleted = state.events.values()
    assert [e.type for e in (paid, updated, deleted)] == ["checkout.session.completed",
                                                           "customer.subscription.updated",
                                                           "customer.subscription.deleted"]
    assert all(e.payload is None for e in state.events.values())  # nothing rendered by the domain
    assert updated.data.subscription is not sub and deleted.data.subscription is not sub
    assert paid.data.checkout is not None and paid.data.checkout is not state.checkouts[paid.data.checkout.id]
    end = int(sub.current_period_end.timestamp())
    before = json.loads(serialised(updated))["data"]["object"]
    after = json.loads(serialised(deleted))["data"]["object"]
    assert (before["status"], before["cancel_at_period_end"], before["canceled_at"], before["ended_at"]) == (
        "active", True, int(NOW.timestamp()), None)
    assert (after["status"], after["ended_at"]) == ("canceled", end)
    assert before["metadata"] == after["metadata"] == {"userId": "proj_acme:u", "plan": "pro"}
    assert serialised(updated) is updated.payload  # kept: every attempt sends these very bytes


def test_a_renewal_invoice_shows_its_own_period() -> None:
    state, ids = world(), IdFactory(8)
    sub = state.subscriptions[str(_paid(state, ids, "pro").subscription_id)]
    billing.run_due(state, ids, datetime(2026, 6, 1, tzinfo=UTC))  # two renewals: Apr 30, May 31
    first, second = (json.loads(serialised(e))["data"]["object"] for e in state.events.values()
                     if e.type == "invoice.paid")
    assert first["id"].startswith("in_") and first["id"] != second["id"]
    periods = [(o["period_start"], o["period_end"]) for o in (first, second)]
    stamps = [int(datetime(2026, m, d, 12, tzinfo=UTC).timestamp()) for m, d in [(4, 30), (5, 31), (6, 30)]]
    assert periods == [(stamps[0], stamps[1]), (stamps[1], stamps[2])]
    assert first["amount_paid"] == billing.PRO_CENTS == 1900 and first["subscription"] == sub.id
    assert first["subscription_details"] == {"metadata": {"userId": "proj_acme:u", "plan": "pro"}}


def test_open_session_expires_after_24_hours() -> None:
    state, ids = world(), IdFactory(3)
    session = billing.start_checkout(state, ids, NOW, keys.resolve(state, None), "u", "credits", origin="http://e")
    later = billing.start_checkout(state, ids, NOW + timedelta(hours=1), keys.resolve(state, None), "u", "pro",
                                   origin="http://e")
    assert list(state.open_checkouts) == [session.id, later.id]
    assert billing.next_due(state) == NOW + timedelta(hours=24)
    billing.run_due(state, ids, NOW + timedelta(hours=24))
    assert session.status == "expired" and later.status == "open"
    assert list(state.open_checkouts) == [later.id]  # the index of due work follows
    assert billing.next_due(state) == NOW + timedelta(hours=25)
    with pytest.raises(PayKitError) as exc:
        billing.pay_checkout(state, ids, NOW, session.id)
    assert refusal(exc) == (409, "This checkout session is expired")


def test_webhook_refusals_change_nothing() -> None:
    state = world()
    body = {"id": "evt_x", "object": "event", "type": "checkout.session.completed", "created": 1,
            "data": {"object": {"customer": "cus_1", "metadata": {"userId": "proj_acme:w", "packCredits": "0"}}}}
    payload = json.dumps(body).encode()
    ts = int(NOW.timestamp())
    for header, status in [(signing.header(payload, "whsec_paykit_demo", ts), 400),  # the wrong project's secret
                           (signing.header(payload, "whsec_acme", ts - 301), 400),
                           (None, 400),
                           (signing.header(payload, "whsec_acme", ts), 500)]:  # packCredits "0" cannot be applied
        with pytest.raises(PayKitError) as exc:
            webhook.receive(state, NOW, payload, header)
        assert exc.value.http_status == status
    assert "proj_acme:w" not in state.accounts and state.usage == []
    with pytest.raises(PayKitError) as exc:
        webhook.receive(state, NOW, b"not json", signing.header(b"not json", "whsec_paykit_demo", ts))
    assert refusal(exc) == (400, "Invalid signature")
    state.stripe.configured = False
    with pytest.raises(PayKitError) as exc:
        webhook.receive(state, NOW, payload, signing.header(payload, "whsec_acme", ts))
    assert refusal(exc) == (501, "Stripe not configured")


def test_webhook_pack_credits_read_like_javascript_numbers() -> None:
    state = world()
    ts = int(NOW.timestamp())
    for pack, expected in [(" 100 ", 105), ("1e2", 205), ("0x64", 305)]:
        body = {"type": "checkout.session.completed",
                "data": {"object": {"metadata": {"userId": "proj_acme:n", "packCredits": pack}}}}
        payload = json.dumps(body).encode()
        webhook.receive(state, NOW, payload, signing.header(payload, "whsec_acme", ts))
        assert state.accounts["proj_acme:n"].credits == expected


# --- world section -----------------------------------------------------------------------------


def test_world_section_loads_and_refuses_whole() -> None:
    state = world()
    assert set(state.projects) == {"default", "proj_acme", "proj_safe"}
    assert state.keys["pk_live_demo"] == "default" and state.keys["sk_live_acme"] == "proj_acme"
    assert state.accounts["proj_acme:pro_user"].entitlements == ["pro"]
    bad = {**SECTION, "accounts": [{"project": "proj_nope", "userId": "x"}]}
    with pytest.raises(WorldSectionError, match=r"paykit\.accounts\[0\]\.project"):
        load(state, bad)
    assert "proj_acme" in state.projects  # unchanged
    with pytest.raises(WorldSectionError, match="already used"):
        build({"projects": [{"id": "p", "publishableKey": "pk_live_demo", "secretKey": "sk_x"}]})
    with pytest.raises(WorldSectionError, match="unknown keys"):
        build({"projets": []})
    load(state, None)
    assert set(state.projects) == {"default"} and state.accounts == {}


@pytest.mark.parametrize(("section", "where"), [
    ({"baseUrl": "javascript:alert(1)"}, "paykit.baseUrl"),
    ({"baseUrl": "http://a.test/\nSet-Cookie: x=1"}, "paykit.baseUrl"),
    ({"baseUrl": "localhost:3000"}, "paykit.baseUrl"),
    ({"webhookUrl": "ftp://hooks.test/x"}, "paykit.webhookUrl"),
    ({"webhookUrl": "http:///no-host"}, "paykit.webhookUrl"),
    ({"projects": [{"id": "p", "publishableKey": "pk_p", "secretKey": "sk_p", "baseUrl": "not a url"}]},
     "paykit.projects[0].baseUrl"),
])
def test_world_urls_must_be_http(section: dict[str, object], where: str) -> None:
    """Base URLs become redirect targets and page links, the webhook URL a POST target: an absolute
    http(s) URL or the section is refused, naming the entry."""
    with pytest.raises(WorldSectionError, match=rf"^{re.escape(where)}: must be an absolute http\(s\) URL"):
        build(section)
    assert build({"baseUrl": "http://localhost:3000/", "webhookUrl": "https://hooks.test/paykit", "projects": [
        {"id": "p", "publishableKey": "pk_p", "secretKey": "sk_p", "baseUrl": "https://p.test"}]}).base_url == (
        "http://localhost:3000/")


def test_outbox_retries_then_gives_up() -> None:
    state, ids = world(), IdFactory(4)
    session = billing.start_checkout(state, ids, NOW, keys.resolve(state, None), "u", "credits", origin="http://e")
    billing.pay_checkout(state, ids, NOW, session.id)
    (event,) = state.events.values()
    assert outbox.next_due(state) == NOW
    assert outbox.take_due(state, NOW) == [event] and outbox.take_due(state, NOW) == []  # never twice at once
    assert outbox.next_due(state) is None
    at = NOW
    for wait in [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]:
        outbox.finish(state, event, at, 500, "nope")
        assert (event.status, event.next_attempt_at) == ("pending", at + wait)
        at += wait
        assert outbox.take_due(state, at) == [event]
    outbox.finish(state, event, at, None, "connection refused")
    assert event.status == "failed" and len(event.attempts) == 5 and outbox.next_due(state) is None
    outbox.redeliver(state, event.id, at)
    assert outbox.take_due(state, at) == [event]
    outbox.finish(state, event, at, 200, '{"received": true}')
    assert event.status == "delivered" and [a.status for a in event.attempts] == [500, 500, 500, 500, None, 200]
    with pytest.raises(PayKitError) as exc:
        outbox.redeliver(state, "evt_nope", at)
    assert exc.value.http_status == 404


def test_state_survives_a_snapshot_round_trip() -> None:
    """`serve --state` saves states by their annotations: PayKit's reads back equal, with its indexes of due
    work rebuilt over the restored rows (not saved copies)."""
    from paywall_emulator.engine import snapshot

    state, ids = world(), IdFactory(6)
    state.ids = ids
    ledger.meter(state, NOW, keys.resolve(state, None), "u", "chat", cost_usd=0.5)
    pro = _paid(state, ids, "pro")
    billing.start_checkout(state, ids, NOW, keys.resolve(state, None), "v", "credits", origin="http://e")
    raw = json.loads(json.dumps(snapshot.encode(state)))
    back = snapshot.decode(raw, PayKitState)
    assert snapshot.encode(back) == snapshot.encode(state)
    assert list(back.open_checkouts) == list(state.open_checkouts)
    assert back.open_checkouts[next(iter(back.open_checkouts))] is back.checkouts[next(iter(back.open_checkouts))]
    sub_id = str(pro.subscription_id)
    assert back.active_subscriptions[sub_id] is back.subscriptions[sub_id]
    assert [e.id for e in back.pending.values()] == [e.id for e in state.pending.values()]
    assert all(back.pending[k] is back.events[k] for k in back.pending)
    assert back.ids.alnum(8) == state.ids.alnum(8)
    sent = next(iter(state.events.values()))
    assert serialised(back.events[sent.id]) == serialised(sent)  # a restored snapshot renders the same bytes
    raw = json.loads(json.dumps(snapshot.encode(state)))  # now with the kept payload
    assert snapshot.decode(raw, PayKitState).events[sent.id].payload == sent.payload
