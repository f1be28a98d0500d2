"""User reads: GET user-state (the SDK's access check, four keys always) and GET user (detailed
purchases plus `user`/`paid`/`balances`), with the identity model on the apiKey path."""

from __future__ import annotations

import pytest

from paywall_emulator.testing import ControlClient

from .conftest import (
    ACME_KEY,
    ALICE,
    FREEMIUS_PW,
    PADDLE_PW,
    RIVAL_KEY,
    RIVAL_PW,
    STRIPE_PW,
    TOKEN_PW,
    Api,
    error_of,
)

EMPTY = {"has_active_subscription": False, "purchases": [], "trial": None, "had_previous_trial": False}
ALICE_SUB = "sub_seedAlicePro000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"


def user_state(api: Api, paywall: str = STRIPE_PW, **kwargs: object) -> dict[str, object]:
    resp = api.get(f"/api/v1/paywall/{paywall}/user-state", **kwargs)  # type: ignore[arg-type]
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body: dict[str, object] = resp.json()
    assert set(body) >= set(EMPTY)
    return body


def get_user(api: Api, paywall: str = STRIPE_PW, **kwargs: object):  # type: ignore[no-untyped-def]
    return api.get(f"/api/v1/paywall/{paywall}/user", **kwargs)  # type: ignore[arg-type]


# --- user-state ---------------------------------------------------------------------------------


def test_user_state_by_email_header(api: Api) -> None:
    body = user_state(api, headers={"X-User-Email": "alice@example.com"})
    assert body["has_active_subscription"] is True
    assert body["purchases"] == [{"id": ALICE_SUB, "status": "active", "cancel_at_period_end": False,
                                  "current_period_end": body["purchases"][0]["current_period_end"]}]  # type: ignore[index]
    assert body["trial"] is None and body["had_previous_trial"] is False


def test_user_state_by_bearer(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="erin@example.com")
    body = user_state(api, bearer=token)
    assert body["has_active_subscription"] is True  # cancelling at period end keeps access
    assert {p["id"]: p["cancel_at_period_end"] for p in body["purchases"]} == {  # type: ignore[attr-defined]
        "sub_seedErinPro0000000000001": True, "pi_seedErinLifetime00000001": False}


def test_user_state_lifetime_purchase_counts_as_access(api: Api) -> None:
    body = user_state(api, headers={"X-User-Email": "FRANK@example.com"})  # emails match case-insensitively
    assert body["has_active_subscription"] is True
    assert body["purchases"][0]["status"] == "paid"  # type: ignore[index]


@pytest.mark.parametrize("headers", [{}, {"X-User-Email": "nobody@example.com"},
                                     {"X-User-Email": "carol@example.com"}, {"X-User-Email": "bob@example.com"}])
def test_user_state_without_access_is_the_empty_state(api: Api, control: ControlClient,
                                                      headers: dict[str, str]) -> None:
    before = control.state()
    assert user_state(api, headers=headers) == EMPTY
    assert control.state() == before


def test_user_state_errors(api: Api) -> None:
    assert error_of(api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state", bearer="emu_at_bad")) == (401, "invalid_token")
    assert error_of(api.get("/api/v1/paywall/404/user-state")) == (404, "not_found")


# --- GET user: apiKey path ---------------------------------------------------------------------


def test_get_user_by_email_answers_purchases_paid_and_balances(api: Api) -> None:
    resp = get_user(api, key=ACME_KEY, params={"email": "alice@example.com"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert "user" not in body  # the profile is Bearer-only
    assert body["paid"] is True and body["balances"] == []
    [purchase] = body["purchases"]
    assert purchase["id"] == ALICE_SUB and purchase["status"] == "active"
    assert purchase["unit_amount"] == 999 and purchase["currency"] == "USD" and purchase["interval"] == "month"
    assert purchase["cancel_at_period_end"] is False and purchase["cancel_at"] is None
    assert body["meta"] == {"userId": "ext_alice"}


def test_get_user_by_platform_id_and_by_external_id(api: Api) -> None:
    by_email = get_user(api, key=ACME_KEY, params={"email": "alice@example.com"}).json()
    assert get_user(api, key=ACME_KEY, params={"user_id": ALICE}).json() == by_email
    assert get_user(api, key=ACME_KEY, params={"user_id": "ext_alice"}).json() == by_email


def test_get_user_both_identities_naming_the_same_user(api: Api) -> None:
    resp = get_user(api, key=ACME_KEY, params={"email": "alice@example.com", "user_id": ALICE})
    assert resp.status_code == 200 and resp.json()["purchases"][0]["id"] == ALICE_SUB


def test_get_user_unknown_user_id_falls_back_to_the_email(api: Api) -> None:
    # The SDK sends the integrator's own id as user_id; an id we never saw must not hide the email.
    resp = get_user(api, key=ACME_KEY, params={"email": "alice@example.com", "user_id": "u_never_seen"})
    assert resp.status_code == 200 and resp.json()["paid"] is True


def test_get_user_email_and_user_id_naming_different_users_is_404(api: Api) -> None:
    resp = get_user(api, key=ACME_KEY, params={"email": "alice@example.com", "user_id": BOB})
    assert error_of(resp) == (404, "identity_not_found")


def test_get_user_on_a_tokenized_paywall_lists_balances(api: Api) -> None:
    body = get_user(api, TOKEN_PW, key=ACME_KEY, params={"email": "alice@example.com"}).json()
    assert body["balances"] == [{"type": "standard", "count": 42}, {"type": "advanced", "count": 2},
                                {"type": "free", "count": 0}]
    assert body["paid"] is False and body["purchases"] == []


def test_get_user_lifetime_and_refunded_purchases(api: Api) -> None:
    body = get_user(api, key=ACME_KEY, params={"email": "erin@example.com"}).json()
    rows = {p["id"]: p for p in body["purchases"]}
    assert rows["pi_seedErinLifetime00000001"]["status"] == "refunded"
    assert rows["pi_seedErinLifetime00000001"]["interval"] == "lifetime"
    erin_sub = rows["sub_seedErinPro0000000000001"]
    assert erin_sub["cancel_at_period_end"] is True and erin_sub["cancel_at"] == erin_sub["current_period_end"]


def test_get_user_identity_errors(api: Api, control: ControlClient) -> None:
    before = control.state()
    assert error_of(get_user(api, key=ACME_KEY)) == (400, "identity_required")
    assert error_of(get_user(api, key=ACME_KEY, params={"email": "nobody@example.com"})) == (404, "identity_not_found")
    assert error_of(get_user(api, key=ACME_KEY, params={"user_id": "u_nobody"})) == (404, "identity_not_found")
    # carol exists but only ever touched paywall 7.
    assert error_of(get_user(api, key=ACME_KEY, params={"email": "carol@example.com"})) == (
        404, "identity_not_on_paywall")
    assert error_of(get_user(api, FREEMIUS_PW, key=ACME_KEY, params={"user_id": ALICE})) == (
        404, "identity_not_on_paywall")
    assert error_of(get_user(api, key=ACME_KEY, params={"email": "not-an-email"})) == (400, "invalid_email")
    assert control.state() == before


def test_get_user_key_errors(api: Api) -> None:
    params = {"email": "alice@example.com"}
    assert error_of(get_user(api, params=params)) == (401, "unauthorized")
    assert error_of(get_user(api, key="sk_emulator_wrong", params=params)) == (401, "invalid_api_key")
    assert error_of(get_user(api, key=RIVAL_KEY, params=params)) == (403, "forbidden")
    assert error_of(get_user(api, "9999", key=ACME_KEY, params=params)) == (404, "not_found")
    # The rival's own paywall answers the rival's key.
    grace = get_user(api, RIVAL_PW, key=RIVAL_KEY, params={"email": "grace@rival.example"})
    assert grace.status_code == 200 and grace.json()["paid"] is True


# --- GET user: Bearer path ---------------------------------------------------------------------


def test_get_user_bearer_adds_the_profile_and_ignores_the_query(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    body = get_user(api, bearer=token, params={"email": "frank@example.com"}).json()
    assert body["user"]["id"] == ALICE and body["user"]["email"] == "alice@example.com"
    assert body["user"]["name"] == "Alice Active"
    assert [p["id"] for p in body["purchases"]] == [ALICE_SUB]


def test_get_user_bearer_of_a_user_not_on_this_paywall(api: Api, control: ControlClient) -> None:
    token = control.mint_token(PADDLE_PW, email="carol@example.com")  # links carol to 7 only
    assert error_of(get_user(api, bearer=token)) == (404, "identity_not_on_paywall")
    assert get_user(api, PADDLE_PW, bearer=token).json()["paid"] is True


def test_get_user_with_key_and_bearer_uses_the_key_path(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="frank@example.com")
    resp = get_user(api, key=ACME_KEY, bearer=token, params={"email": "alice@example.com"})
    assert resp.status_code == 200
    assert "user" not in resp.json() and resp.json()["purchases"][0]["id"] == ALICE_SUB


def test_get_user_bad_bearer_is_401(api: Api) -> None:
    assert error_of(get_user(api, bearer="emu_at_bad")) == (401, "invalid_token")
