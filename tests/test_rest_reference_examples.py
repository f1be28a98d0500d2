"""The REST reference's (002) curl examples, sent as printed with the bundled world's ids in place of
the placeholders (YOUR_DOMAIN, $MONETIZE_API_KEY, the price id read from bootstrap as the docs say, a
seeded subscription, a tokenized paywall), answer with the documented status and body shape."""

from __future__ import annotations

import uuid

import requests

from paywall_emulator.testing import ControlClient

from .conftest import ACME_KEY, ALICE, STRIPE_PW, TOKEN_PW, Api, error_of

ALICE_SUB = "sub_seedAlicePro000000000001"
JSON = {"Content-Type": "application/json"}


def test_bootstrap(api: Api) -> None:
    resp = api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap")
    body = resp.json()
    assert resp.status_code == 200 and {"version", "settings", "prices", "offers", "layout", "locales"} <= set(body)
    assert body["settings"]["id"] == STRIPE_PW and body["prices"][0]["currency"] == "USD"
    monthly = body["prices"][0]  # 002's example: id, currency, amount, interval, interval_count, trial_days, label
    assert {k: monthly[k] for k in ("id", "currency", "amount", "interval", "interval_count")} == {
        "id": "101", "currency": "USD", "amount": 9.99, "interval": "month", "interval_count": 1}
    assert {"trial_days", "label"} <= set(monthly)
    assert body["version"].startswith(f"{STRIPE_PW}:")  # opaque; its format is the emulator's (spec)


def test_start_checkout(api: Api, control: ControlClient) -> None:
    price = api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap").json()["prices"][0]["id"]
    headers = {**JSON, "Idempotency-Key": str(uuid.uuid4())}
    body = {"email": "user@example.com", "priceId": price, "successUrl": "https://app.example.com/success"}
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY, headers=headers, json=body)
    assert resp.status_code == 200 and set(resp.json()) == {"checkoutUrl", "userId", "acquiring"}
    assert resp.json()["acquiring"] == "stripe"
    # the example's literal "monthly" is a hardcoded id, which the docs say answers 404
    stale = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
                     headers={**JSON, "Idempotency-Key": str(uuid.uuid4())}, json={**body, "priceId": "monthly"})
    assert stale.status_code == 404
    # GET user (apiKey path) for the user the checkout linked
    user = api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY, params={"email": "user@example.com"})
    assert user.status_code == 200 and {"purchases", "paid", "balances"} <= set(user.json())
    assert "user" not in user.json()
    assert user.json()["purchases"] == [] and user.json()["paid"] is False
    state = control.state()["monetize"]
    (created,) = [u for u in state["users"] if u["email"] == "user@example.com"]
    assert resp.json()["userId"] == created["id"]
    (session,) = [c for c in state["checkouts"] if c["user_id"] == created["id"]]
    assert session["url"] == resp.json()["checkoutUrl"] and session["success_url"] == "https://app.example.com/success"


def test_cancel_subscription(api: Api, control: ControlClient) -> None:
    resp = api.post("/api/paywall/cancel-subscription", key=ACME_KEY, headers=JSON, json={
        "subscriptionId": ALICE_SUB, "paywallId": STRIPE_PW, "cancellationReason": "too expensive",
        "email": "alice@example.com"})
    body = resp.json()
    assert resp.status_code == 200 and body["success"] is True
    assert body["message"] == "Subscription cancelled successfully"
    (row,) = [s for s in control.state()["monetize"]["subscriptions"] if s["id"] == ALICE_SUB]
    assert body["subscription"] == {"id": ALICE_SUB, "status": "active", "cancel_at_period_end": True,
                                    "cancel_at": row["current_period_end"], "canceled_at": None}
    assert row["cancel_at_period_end"] is True and row["cancellation_reason"] == "too expensive"
    again = api.post("/api/paywall/cancel-subscription", key=ACME_KEY, headers=JSON, json={
        "subscriptionId": ALICE_SUB, "paywallId": STRIPE_PW, "cancellationReason": "too expensive",
        "email": "alice@example.com"})
    assert again.status_code == 400 and again.json()["error"] == "Subscription is already cancelled"


def test_customer_portal(api: Api) -> None:
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/get-customer-portal", key=ACME_KEY, headers=JSON,
                    json={"email": "alice@example.com"})
    assert resp.status_code == 200 and set(resp.json()) == {"url"}
    portal = requests.get(resp.json()["url"], timeout=30)  # the one-time URL opens alice's portal
    assert portal.status_code == 200 and f'data-subscription-id="{ALICE_SUB}"' in portal.text


def test_support_ticket(api: Api, control: ControlClient) -> None:
    bearer = control.mint_token(STRIPE_PW, email="alice@example.com")
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/support/ticket", bearer=bearer, headers=JSON,
                    json={"subject": "Refund request", "content": "I would like to cancel..."})
    assert resp.status_code == 200 and resp.json()["ticket"]["status"] == "open"
    assert isinstance(resp.json()["ticket"]["id"], int)
    (ticket,) = control.state()["monetize"]["tickets"]
    assert ticket["id"] == resp.json()["ticket"]["id"] and ticket["subject"] == "Refund request"


def test_balances_credit_and_debit(api: Api) -> None:
    credit = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY, headers=JSON, json={
        "email": "alice@example.com", "type": "standard", "amount": 100, "op": "credit"})
    assert credit.status_code == 200
    assert credit.json() == {"success": True, "user_id": ALICE, "type": "standard", "count": 142,
                             "balances": [{"type": "standard", "count": 142}, {"type": "advanced", "count": 2},
                                          {"type": "free", "count": 0}]}
    debit = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY, headers=JSON, json={
        "user_id": ALICE, "type": "standard", "amount": 5, "op": "debit"})
    assert debit.status_code == 200 and debit.json()["count"] == 137
    # 002: 404 identity_not_found for a user not linked to this paywall
    unknown = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY, headers=JSON, json={
        "email": "user@example.com", "type": "standard", "amount": 100, "op": "credit"})
    assert error_of(unknown) == (404, "identity_not_found")


def test_withdraw_tokens(api: Api, control: ControlClient) -> None:
    resp = api.post("/api/v1/withdraw-tokens", key=ACME_KEY, headers=JSON, json={
        "paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 1, "token_type": "standard"})
    assert resp.status_code == 200 and resp.json() == {"success": True, "remaining": 41}
    rows = {(b["user_id"], b["paywall_id"], b["type"]): b["count"] for b in control.state()["monetize"]["balances"]}
    assert rows[(ALICE, TOKEN_PW, "standard")] == 41
