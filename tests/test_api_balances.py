"""Token balances: the Bearer read (GET), the owner's credit/debit (POST, X-Api-Key only) and the
legacy withdraw-tokens, with every documented refusal leaving the balances as they were."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from paywall_emulator.products.monetize.domain import balances
from paywall_emulator.testing import ControlClient
from tests.worlds import monetize_section, monetize_store

from .conftest import ACME_KEY, ALICE, RIVAL_KEY, STRIPE_PW, TOKEN_PW, Api, error_of

BOB = "b0b00000-0000-4000-8000-000000000002"
CAROL = "ca201000-0000-4000-8000-000000000003"
PATH = f"/api/v1/paywall/{TOKEN_PW}/balances"
MAX = 2_147_483_647  # the largest balance and amount (2^31 - 1)


def adjust(api: Api, body: Any, *, key: str | None = ACME_KEY, paywall: str = TOKEN_PW,
           **kwargs: Any) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/balances", key=key, json=body, **kwargs)


def withdraw(api: Api, body: Any, *, key: str | None = ACME_KEY, **kwargs: Any) -> requests.Response:
    return api.post("/api/v1/withdraw-tokens", key=key, json=body, **kwargs)


def counts(control: ControlClient, user_id: str = ALICE) -> dict[str, int]:
    return {r["type"]: r["count"] for r in control.state()["monetize"]["balances"]
            if r["user_id"] == user_id and r["paywall_id"] == TOKEN_PW}


# --- GET balances (Bearer) ------------------------------------------------------------------------


def test_get_balances_with_bearer(api: Api, control: ControlClient) -> None:
    token = control.mint_token(TOKEN_PW, email="alice@example.com")
    resp = api.get(PATH, bearer=token)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"balances": [{"type": "standard", "count": 42}, {"type": "advanced", "count": 2},
                                        {"type": "free", "count": 0}], "tokenization": True}


def test_get_balances_on_a_paywall_without_tokenization(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    assert api.get(f"/api/v1/paywall/{STRIPE_PW}/balances", bearer=token).json() == {
        "balances": [], "tokenization": False}


def test_get_balances_refusals(api: Api) -> None:
    assert error_of(api.get(PATH)) == (401, "authorization_required")
    assert error_of(api.get(PATH, key=ACME_KEY)) == (401, "authorization_required")  # a key does not count
    assert error_of(api.get(PATH, bearer="emu_at_bad")) == (401, "invalid_token")
    assert error_of(api.get("/api/v1/paywall/9999/balances", bearer="emu_at_bad")) == (401, "invalid_token")


# --- POST balances: credit / debit ----------------------------------------------------------------


def test_credit_then_debit(api: Api, control: ControlClient) -> None:
    resp = adjust(api, {"email": "alice@example.com", "type": "standard", "amount": 100, "op": "credit"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"success": True, "user_id": ALICE, "type": "standard", "count": 142,
                           "balances": [{"type": "standard", "count": 142}, {"type": "advanced", "count": 2},
                                        {"type": "free", "count": 0}]}
    resp = adjust(api, {"user_id": ALICE, "type": "standard", "amount": 5, "op": "debit"})
    assert resp.json()["count"] == 137
    assert counts(control) == {"standard": 137, "advanced": 2, "free": 0}


def test_debit_to_exactly_zero(api: Api, control: ControlClient) -> None:
    resp = adjust(api, {"email": "alice@example.com", "type": "advanced", "amount": 2, "op": "debit"})
    assert resp.status_code == 200 and resp.json()["count"] == 0
    assert counts(control)["advanced"] == 0


def test_insufficient_debit_changes_nothing(api: Api, control: ControlClient) -> None:
    before = control.state()
    resp = adjust(api, {"email": "alice@example.com", "type": "standard", "amount": 43, "op": "debit"})
    assert error_of(resp) == (400, "insufficient")
    assert resp.json()["error"] == "insufficient"
    assert resp.json()["available"] == 42 and resp.json()["type"] == "standard"
    assert control.state() == before


def test_credit_needs_a_user_linked_to_the_paywall(api: Api, control: ControlClient) -> None:
    """002: 404 identity_not_found, "No user with that email/user_id linked to this paywall". Carol
    exists (she pays on paywall 7) but never touched the tokenized paywall: by e-mail or by id, her
    credit is refused and links nobody; once a checkout linked her, the same credit goes through."""
    before = control.state()
    for who in ({"email": "carol@example.com"}, {"user_id": CAROL}, {"email": "carol@example.com", "user_id": CAROL}):
        resp = adjust(api, {**who, "type": "advanced", "amount": 3, "op": "credit"})
        assert error_of(resp) == (404, "identity_not_found")
        assert resp.json()["error"] == "identity_not_found"
    assert control.state() == before
    linked = api.post(f"/api/v1/paywall/{TOKEN_PW}/start-checkout", key=ACME_KEY,
                      json={"email": "carol@example.com", "priceId": 401})
    assert linked.status_code == 200
    resp = adjust(api, {"email": "carol@example.com", "type": "advanced", "amount": 3, "op": "credit"})
    assert resp.status_code == 200 and resp.json()["user_id"] == CAROL
    assert resp.json()["count"] == 5  # the daily-trial allowance of the new link (2) plus the credit


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"email": "alice@example.com", "type": "standard", "amount": 0, "op": "credit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": -5, "op": "debit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": 1.5, "op": "credit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": "5", "op": "credit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": MAX + 1, "op": "credit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": 10**29, "op": "credit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": MAX + 1, "op": "debit"}, 400, "invalid_amount"),
    # a credit that would take the balance (42) past the maximum; carol is not linked, which is checked first.
    ({"email": "alice@example.com", "type": "standard", "amount": MAX, "op": "credit"}, 400, "invalid_amount"),
    ({"email": "carol@example.com", "type": "standard", "amount": MAX, "op": "credit"}, 404, "identity_not_found"),
    ({"email": "alice@example.com", "type": "standard", "op": "credit"}, 400, "invalid_amount"),
    ({"email": "alice@example.com", "type": "standard", "amount": 5, "op": "add"}, 400, "invalid_op"),
    ({"email": "alice@example.com", "type": "standard", "amount": 5}, 400, "invalid_op"),
    ({"email": "alice@example.com", "amount": 5, "op": "credit"}, 400, "type_required"),
    ({"email": "alice@example.com", "type": "", "amount": 5, "op": "credit"}, 400, "type_required"),
    ({"email": "alice@example.com", "type": "gpt-4", "amount": 5, "op": "credit"}, 400, "token_type_not_found"),
    ({"type": "standard", "amount": 5, "op": "credit"}, 400, "identity_required"),
    ({"email": "alice", "type": "standard", "amount": 5, "op": "credit"}, 400, "invalid_email"),
    ({"email": "nobody@example.com", "type": "standard", "amount": 5, "op": "credit"}, 404, "identity_not_found"),
    ({"user_id": "u_nobody", "type": "standard", "amount": 5, "op": "credit"}, 404, "identity_not_found"),
    # carol exists but was never linked to the tokenized paywall: a credit or a debit needs the link.
    ({"email": "carol@example.com", "type": "standard", "amount": 1, "op": "debit"}, 404, "identity_not_found"),
    ({"email": "carol@example.com", "type": "standard", "amount": 1, "op": "credit"}, 404, "identity_not_found"),
    ({"email": "grace@rival.example", "type": "standard", "amount": 1, "op": "credit"}, 404, "identity_not_found"),
])
def test_refusals_change_nothing(api: Api, control: ControlClient, body: dict[str, Any], status: int,
                                 code: str) -> None:
    before = control.state()
    assert error_of(adjust(api, body)) == (status, code)
    assert control.state() == before


def test_a_balance_fills_up_to_the_maximum_and_no_further(api: Api, control: ControlClient) -> None:
    resp = adjust(api, {"user_id": ALICE, "type": "standard", "amount": MAX - 42, "op": "credit"})
    assert resp.status_code == 200 and resp.json()["count"] == MAX
    before = control.state()
    refused = adjust(api, {"user_id": ALICE, "type": "standard", "amount": 1, "op": "credit"})
    assert error_of(refused) == (400, "invalid_amount")
    body = refused.json()
    assert body["error"] == "invalid_amount"
    assert (body["type"], body["available"], body["maximum"]) == ("standard", MAX, MAX)
    assert control.state() == before
    assert counts(control)["standard"] == MAX
    debit = adjust(api, {"user_id": ALICE, "type": "standard", "amount": MAX, "op": "debit"})
    assert debit.status_code == 200 and debit.json()["count"] == 0
    assert withdraw(api, {"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": MAX}).json()["available"] == 0


def test_type_not_configured_on_a_paywall_without_tokenization(api: Api) -> None:
    resp = adjust(api, {"email": "alice@example.com", "type": "standard", "amount": 1, "op": "credit"},
                  paywall=STRIPE_PW)
    assert error_of(resp) == (400, "token_type_not_found")


def test_bearer_is_never_accepted_for_post(api: Api, control: ControlClient) -> None:
    token = control.mint_token(TOKEN_PW, email="alice@example.com")
    before = control.state()
    body = {"email": "alice@example.com", "type": "standard", "amount": 1000, "op": "credit"}
    assert error_of(adjust(api, body, key=None, bearer=token)) == (401, "unauthorized")
    assert control.state() == before


def test_key_checks(api: Api, control: ControlClient) -> None:
    before = control.state()
    body = {"email": "alice@example.com", "type": "standard", "amount": 1, "op": "debit"}
    assert error_of(adjust(api, body, key=None)) == (401, "unauthorized")
    assert error_of(adjust(api, body, key="sk_emulator_wrong")) == (401, "invalid_api_key")
    assert error_of(adjust(api, body, key=RIVAL_KEY)) == (403, "forbidden")
    assert error_of(adjust(api, body, paywall="9999")) == (404, "not_found")
    assert control.state() == before


# --- legacy withdraw-tokens -----------------------------------------------------------------------


def test_withdraw_tokens(api: Api, control: ControlClient) -> None:
    resp = withdraw(api, {"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 2, "token_type": "standard"})
    assert resp.status_code == 200 and resp.json() == {"success": True, "remaining": 40}
    # token_type defaults to standard; paywall_id may be a number.
    resp = withdraw(api, {"paywall_id": int(TOKEN_PW), "user_id": ALICE, "tokens": 1})
    assert resp.status_code == 200 and resp.json() == {"success": True, "remaining": 39}
    assert counts(control)["standard"] == 39


def test_withdraw_insufficient_keeps_the_legacy_sentence(api: Api, control: ControlClient) -> None:
    before = control.state()
    resp = withdraw(api, {"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 3, "token_type": "advanced"})
    assert error_of(resp) == (400, "insufficient_tokens")
    body = resp.json()
    assert body["error"] == "Insufficient tokens" and body["available"] == 2 and body["requested"] == 3
    assert control.state() == before


@pytest.mark.parametrize(("body", "status", "code", "error"), [
    ({"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 1, "token_type": "gpt-4"}, 400, "token_type_not_found",
     "Token type gpt-4 not found in user balance"),
    ({"paywall_id": TOKEN_PW, "user_id": CAROL, "tokens": 1}, 404, "no_balance",
     "No balance found for this user and paywall"),
    ({"paywall_id": STRIPE_PW, "user_id": ALICE, "tokens": 1}, 404, "no_balance",
     "No balance found for this user and paywall"),
    ({"paywall_id": TOKEN_PW, "user_id": "u_nobody", "tokens": 1}, 404, "no_balance",
     "No balance found for this user and paywall"),
    ({"paywall_id": "9999", "user_id": ALICE, "tokens": 1}, 404, "not_found", None),
    ({"user_id": ALICE, "tokens": 1}, 400, "paywall_id_required", None),
    ({"paywall_id": "", "user_id": ALICE, "tokens": 1}, 400, "paywall_id_required", None),
    ({"paywall_id": TOKEN_PW, "tokens": 1}, 400, "user_id_required", None),
    ({"paywall_id": TOKEN_PW, "user_id": ALICE}, 400, "tokens_required", None),
    ({"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 0}, 400, "tokens_required", None),
    ({"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": MAX + 1}, 400, "tokens_required", None),
    ({"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 10**29}, 400, "tokens_required", None),
])
def test_withdraw_refusals(api: Api, control: ControlClient, body: dict[str, Any], status: int, code: str,
                           error: str | None) -> None:
    before = control.state()
    resp = withdraw(api, body)
    assert error_of(resp) == (status, code)
    if error is not None:
        assert resp.json()["error"] == error
    assert control.state() == before


def test_withdraw_credentials(api: Api, control: ControlClient) -> None:
    token = control.mint_token(TOKEN_PW, email="alice@example.com")
    before = control.state()
    body = {"paywall_id": TOKEN_PW, "user_id": ALICE, "tokens": 1}
    assert error_of(withdraw(api, body, key=None)) == (401, "unauthorized")
    assert error_of(withdraw(api, body, key="sk_emulator_wrong")) == (401, "invalid_api_key")
    for key in (None, "sk_emulator_wrong"):
        assert withdraw(api, body, key=key).json()["error"] == "Invalid API key"
    assert error_of(withdraw(api, body, key=None, bearer=token)) == (401, "unauthorized")  # Bearer not accepted
    resp = withdraw(api, body, key=RIVAL_KEY)
    assert error_of(resp) == (403, "forbidden")
    assert resp.json()["error"] == "Unauthorized. You are not the owner of this paywall"
    assert control.state() == before


def test_a_payment_grant_stops_at_the_maximum() -> None:
    """A payment cannot be refused, so its grant is capped (domain level: no HTTP call grants directly)."""
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    store = monetize_store(monetize_section(), now=now)
    paywall = store.paywalls[TOKEN_PW]
    standard = paywall.token_type("standard")
    assert standard is not None
    balances.current(store, now, paywall, ALICE, standard).count = MAX - 5
    balances.grant_for_payment(store, now, paywall, ALICE, "month")
    assert balances.current(store, now, paywall, ALICE, standard).count == MAX
    assert balances.MAX_BALANCE == MAX


def test_bodies_found_valid_are_remembered_by_their_text_never_by_their_shape(api: Api,
                                                                                control: ControlClient) -> None:
    """Request bodies found valid are remembered (by operation, media type and exact text) so the same
    text is not checked against the schema again: the same valid text is accepted every time, an invalid
    one refused every time, also after more valid texts than are remembered and for text that differs
    from a remembered one only in a value."""
    valid = json.dumps({"email": "alice@example.com", "type": "standard", "amount": 1, "op": "credit"})
    invalid = valid.replace('"amount": 1', '"amount": 1.5')
    before = counts(control)["standard"]
    for _ in range(3):
        assert adjust(api, None, data=valid, headers={"Content-Type": "application/json"}).status_code == 200
        refused = adjust(api, None, data=invalid, headers={"Content-Type": "application/json"})
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_amount"
    for amount in range(1, 41):  # more distinct valid texts than an operation remembers
        body = {"email": "alice@example.com", "type": "standard", "amount": amount, "op": "credit"}
        assert adjust(api, body).status_code == 200
        assert adjust(api, {**body, "op": "debit"}).status_code == 200
    refused = adjust(api, None, data=invalid, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_amount"
    assert counts(control)["standard"] == before + 3
