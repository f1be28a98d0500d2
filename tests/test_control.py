"""The minimal control API: health, reset, state dump and minting Bearer tokens (seed loading, the clock
and the paging of the long lists, the state dump's included, have their own test modules)."""

from __future__ import annotations

from typing import Any

import pytest

from paywall_emulator import __version__
from paywall_emulator.testing import ControlClient

from .conftest import ALICE, PADDLE_PW, STRIPE_PW, Api, error_of


def mint(api: Api, body: Any) -> Any:
    return api.post("/_emulator/tokens", json=body)


def test_health(api: Api) -> None:
    resp = api.get("/_emulator/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "version": __version__,
                           "products": ["monetize", "paykit", "paywalls-ai"]}


def test_reset_answers_the_instant_and_drops_everything_created(api: Api, control: ControlClient) -> None:
    seeded = control.state()["monetize"]
    api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", json={"email": "new@example.com", "priceId": "101"})
    assert control.state()["monetize"]["checkouts"]
    answer = control.reset()
    assert answer["reset"] is True and answer["now"].endswith("Z")
    state = control.state()["monetize"]
    assert state["checkouts"] == [] and {u["email"] for u in state["users"]} == {u["email"] for u in seeded["users"]}


def test_state_dump_lists_every_table(control: ControlClient) -> None:
    dump = control.state()
    assert dump["id_seed"] == 0 and set(dump) == {"id_seed", "page", "monetize", "paykit", "paywalls-ai"}
    assert dump["page"] == {"offset": 0, "limit": 10_000, "more": False}
    state = dump["monetize"]
    assert {"owners", "paywalls", "users", "subscriptions", "payments", "checkouts", "balances", "tickets",
            "events", "links", "analytics"} <= set(state)
    assert {o["id"] for o in state["owners"]} == {"own_acme", "own_rival"}
    assert ALICE in {u["id"] for u in state["users"]}


def test_mint_for_an_existing_user_by_email_or_id(api: Api, control: ControlClient) -> None:
    by_email = mint(api, {"paywall_id": STRIPE_PW, "email": "alice@example.com"}).json()
    assert by_email["token_type"] == "bearer" and by_email["expires_in"] == 3600
    assert by_email["user"] == {"id": ALICE, "email": "alice@example.com"}
    by_id = mint(api, {"paywall_id": STRIPE_PW, "user_id": ALICE}).json()
    assert by_id["user"]["id"] == ALICE and by_id["access_token"] != by_email["access_token"]
    for token in (by_email["access_token"], by_id["access_token"]):
        assert api.get(f"/api/v1/paywall/{STRIPE_PW}/user", bearer=token).json()["user"]["id"] == ALICE


def test_mint_for_an_unknown_email_creates_and_links_the_user(api: Api, control: ControlClient) -> None:
    answer = mint(api, {"paywall_id": PADDLE_PW, "email": "fresh@example.com"}).json()
    state = control.state()["monetize"]
    [user] = [u for u in state["users"] if u["email"] == "fresh@example.com"]
    assert answer["user"]["id"] == user["id"]
    assert [lk["paywall_id"] for lk in state["links"] if lk["user_id"] == user["id"]] == [PADDLE_PW]


def test_mint_links_a_known_user_to_the_paywall(api: Api, control: ControlClient) -> None:
    mint(api, {"paywall_id": PADDLE_PW, "email": "alice@example.com"})
    assert any(lk["user_id"] == ALICE and lk["paywall_id"] == PADDLE_PW for lk in control.state()["monetize"]["links"])


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"paywall_id": "9999", "email": "alice@example.com"}, 404, "not_found"),
    ({"paywall_id": STRIPE_PW, "user_id": "u_nobody"}, 404, "not_found"),
    ({"paywall_id": STRIPE_PW, "email": "alice@example.com", "user_id": "b0b00000-0000-4000-8000-000000000002"},
     404, "not_found"),
    ({"paywall_id": STRIPE_PW}, 400, "invalid_request"),
    ({"email": "alice@example.com"}, 400, "invalid_request"),
    ({"paywall_id": STRIPE_PW, "email": "not-an-email"}, 400, "invalid_request"),
    ({"paywall_id": 3, "email": "alice@example.com"}, 400, "invalid_request"),
])
def test_mint_refusals_change_nothing(api: Api, control: ControlClient, body: dict[str, Any], status: int,
                                      code: str) -> None:
    before = control.state()
    assert error_of(mint(api, body)) == (status, code)
    assert control.state() == before


def test_control_errors_use_the_error_shape(api: Api) -> None:
    assert error_of(api.get("/_emulator/nothing-here")) == (404, "not_found")
    assert error_of(api.request("PUT", "/_emulator/reset")) == (405, "method_not_allowed")
    assert error_of(api.post("/_emulator/tokens", data=b"{", headers={"Content-Type": "application/json"})) == (
        400, "invalid_json")
