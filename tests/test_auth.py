"""Every key check on every keyed operation (missing/invalid key 401, another owner's key 403,
unknown paywall 404, in that order), and Bearer tokens (expiry on the emulator clock, scheme,
operations that do not accept them). A refused request never changes anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from paywall_emulator.testing import ControlClient

from .conftest import ACME_KEY, ALICE, RIVAL_KEY, STRIPE_PW, TOKEN_PW, Api, error_of


@dataclass(frozen=True)
class Keyed:
    """One operation that takes an owner key, called for a given paywall id."""

    name: str
    call: Callable[[Api, str, dict[str, str]], requests.Response]
    paywall: str = STRIPE_PW
    missing: tuple[int, str] | None = (401, "unauthorized")  # None: credentials are optional


def _get_user(api: Api, paywall: str, headers: dict[str, str]) -> requests.Response:
    return api.get(f"/api/v1/paywall/{paywall}/user", params={"email": "alice@example.com"}, headers=headers)


def _checkout(api: Api, paywall: str, headers: dict[str, str]) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/start-checkout", headers=headers,
                    json={"email": "new@example.com", "priceId": "101"})


def _portal(api: Api, paywall: str, headers: dict[str, str]) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/get-customer-portal", headers=headers,
                    json={"email": "alice@example.com"})


def _adjust(api: Api, paywall: str, headers: dict[str, str]) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/balances", headers=headers,
                    json={"email": "alice@example.com", "type": "standard", "amount": 1, "op": "credit"})


def _cancel(api: Api, paywall: str, headers: dict[str, str]) -> requests.Response:
    return api.post("/api/paywall/cancel-subscription", headers=headers,
                    json={"subscriptionId": "sub_seedAlicePro000000000001", "paywallId": paywall,
                          "cancellationReason": "x", "email": "alice@example.com"})


def _withdraw(api: Api, paywall: str, headers: dict[str, str]) -> requests.Response:
    return api.post("/api/v1/withdraw-tokens", headers=headers,
                    json={"paywall_id": paywall, "user_id": ALICE, "tokens": 1})


KEYED = [
    Keyed("getUser", _get_user),
    Keyed("startCheckout", _checkout, missing=None),
    Keyed("getCustomerPortal", _portal, missing=None),
    Keyed("adjustBalance", _adjust, paywall=TOKEN_PW),
    Keyed("cancelSubscription", _cancel, missing=(403, "forbidden")),
    Keyed("withdrawTokens", _withdraw, paywall=TOKEN_PW),
]
IDS = [k.name for k in KEYED]


def key(value: str) -> dict[str, str]:
    return {"X-Api-Key": value}


@pytest.mark.parametrize("op", KEYED, ids=IDS)
def test_the_right_key_works(api: Api, op: Keyed) -> None:
    assert op.call(api, op.paywall, key(ACME_KEY)).status_code == 200


@pytest.mark.parametrize("op", [k for k in KEYED if k.missing], ids=[k.name for k in KEYED if k.missing])
def test_missing_key(api: Api, control: ControlClient, op: Keyed) -> None:
    before = control.state()
    assert op.missing is not None
    assert error_of(op.call(api, op.paywall, {})) == op.missing
    assert control.state() == before


@pytest.mark.parametrize("op", KEYED, ids=IDS)
def test_invalid_key_is_401(api: Api, control: ControlClient, op: Keyed) -> None:
    before = control.state()
    for bad in ("sk_emulator_wrong", "not-even-a-key", ACME_KEY.upper()):
        assert error_of(op.call(api, op.paywall, key(bad))) == (401, "invalid_api_key")
    assert control.state() == before


@pytest.mark.parametrize("op", KEYED, ids=IDS)
def test_another_owners_key_is_403(api: Api, control: ControlClient, op: Keyed) -> None:
    before = control.state()
    assert error_of(op.call(api, op.paywall, key(RIVAL_KEY))) == (403, "forbidden")
    assert control.state() == before


@pytest.mark.parametrize("op", KEYED, ids=IDS)
def test_unknown_paywall_is_404(api: Api, control: ControlClient, op: Keyed) -> None:
    before = control.state()
    assert error_of(op.call(api, "9999", key(ACME_KEY))) == (404, "not_found")
    # Even another owner's key learns only "not found" about a paywall nobody owns.
    assert error_of(op.call(api, "9999", key(RIVAL_KEY))) == (404, "not_found")
    assert control.state() == before


@pytest.mark.parametrize("op", KEYED, ids=IDS)
def test_a_bad_key_is_reported_before_an_unknown_paywall(api: Api, op: Keyed) -> None:
    assert error_of(op.call(api, "9999", key("sk_emulator_wrong"))) == (401, "invalid_api_key")


# --- Bearer tokens --------------------------------------------------------------------------------


def read_user(api: Api, headers: dict[str, str]) -> requests.Response:
    return api.get(f"/api/v1/paywall/{STRIPE_PW}/user", headers=headers)


def test_bearer_expires_after_one_hour_on_the_emulator_clock(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    control.clock.advance(seconds=3599)
    assert read_user(api, {"Authorization": f"Bearer {token}"}).status_code == 200
    control.clock.advance(seconds=1)
    assert error_of(read_user(api, {"Authorization": f"Bearer {token}"})) == (401, "invalid_token")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Token abc", "Basic Zm9vOmJhcg==", "emu_at_x"])
def test_malformed_authorization_is_401_invalid_token(api: Api, header: str) -> None:
    assert error_of(read_user(api, {"Authorization": header})) == (401, "invalid_token")


def test_bearer_scheme_is_case_insensitive(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    assert read_user(api, {"Authorization": f"bearer {token}"}).status_code == 200


def test_tokens_do_not_survive_a_reset(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    control.reset()
    assert error_of(read_user(api, {"Authorization": f"Bearer {token}"})) == (401, "invalid_token")


@pytest.mark.parametrize("op", [k for k in KEYED if k.name in ("adjustBalance", "withdrawTokens")],
                         ids=["adjustBalance", "withdrawTokens"])
def test_bearer_is_not_a_credential_where_only_keys_are_accepted(api: Api, control: ControlClient,
                                                                 op: Keyed) -> None:
    token = control.mint_token(TOKEN_PW, email="alice@example.com")
    before = control.state()
    # A valid Bearer does not count; an invalid one is ignored rather than refused as a token.
    assert error_of(op.call(api, op.paywall, {"Authorization": f"Bearer {token}"})) == (401, "unauthorized")
    assert error_of(op.call(api, op.paywall, {"Authorization": "Bearer emu_at_bad"})) == (401, "unauthorized")
    assert control.state() == before


def test_bad_bearer_next_to_a_good_key_is_still_refused(api: Api, control: ControlClient) -> None:
    # A credential the operation accepts is checked even when another one would do: no side effects.
    before = control.state()
    headers: dict[str, Any] = {"X-Api-Key": ACME_KEY, "Authorization": "Bearer emu_at_bad"}
    assert error_of(_checkout(api, STRIPE_PW, headers)) == (401, "invalid_token")
    assert control.state() == before
