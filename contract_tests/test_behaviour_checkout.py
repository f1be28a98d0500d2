"""start-checkout: the same `Idempotency-Key` gives the same session (and a different body with it is 409
`idempotency_key_reused`), an active purchaser gets 409 `already_purchased` with `hasActivePurchase`
unless `ignoreActivePurchase`, and unusable prices are refused (`price_not_found`, `missing_parameters`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from paywall_emulator.contract_tests.client import STATE_ALL, Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import checkout_body, checkout_path, need
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.writes


def test_same_idempotency_key_returns_the_same_checkout(
        api: Api, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    key = f"conform-{settings.run_id}-{uuid.uuid4()}"
    body = checkout_body(contract, settings.paywall_id, new_email("idem"))
    first = expect_ok(api.post(checkout_path(settings.paywall_id), json=body, headers={"Idempotency-Key": key}))
    second = expect_ok(api.post(checkout_path(settings.paywall_id), json=body, headers={"Idempotency-Key": key}))
    assert second["checkoutUrl"] == first["checkoutUrl"], (first, second)
    assert second["userId"] == first["userId"], (first, second)
    changed = {**body, "successUrl": "https://conform.example.com/other"}
    resp = api.post(checkout_path(settings.paywall_id), json=changed, headers={"Idempotency-Key": key})
    expect_error(resp, 409, "idempotency_key_reused")


def test_distinct_idempotency_keys_give_distinct_checkouts(
        api: Api, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    body = checkout_body(contract, settings.paywall_id, new_email("keys"))
    urls = {expect_ok(api.post(checkout_path(settings.paywall_id), json=body,
                               headers={"Idempotency-Key": f"conform-{settings.run_id}-{uuid.uuid4()}"}))["checkoutUrl"]
            for _ in range(2)}
    assert len(urls) == 2, urls


def test_active_purchaser_gets_409_unless_ignore_active_purchase(
        api: Api, contract: ContractSession, settings: Settings) -> None:
    email = need(settings.email, "--paywall-email", "an existing user with an active purchase on --paywall-id")
    body = checkout_body(contract, settings.paywall_id, email)
    conflict = expect_error(api.post(checkout_path(settings.paywall_id), json=body), 409, "already_purchased")
    assert conflict.get("hasActivePurchase") is True, conflict
    bypass = expect_ok(api.post(checkout_path(settings.paywall_id), json={**body, "ignoreActivePurchase": True}))
    assert bypass["checkoutUrl"], bypass


def test_unknown_price_is_price_not_found(api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    resp = api.post(checkout_path(settings.paywall_id), json={"email": new_email("price"), "priceId": 987654321})
    expect_error(resp, 404, "price_not_found")


def test_null_price_is_missing_parameters(api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    resp = api.post(checkout_path(settings.paywall_id), json={"email": new_email("null"), "priceId": None})
    expect_error(resp, 400, "missing_parameters")


@pytest.mark.emulator_only("the world's inactive prices, read from GET /_emulator/state")
def test_a_stale_price_is_price_not_found(api: Api, control: Control, settings: Settings,
                                          new_email: Callable[[str], str]) -> None:
    stale = [p["id"] for p in control.request("GET", STATE_ALL)["monetize"]["prices"]
             if p["paywall_id"] == settings.paywall_id and not p["active"]]
    if not stale:
        pytest.skip(f"paywall {settings.paywall_id} has no inactive price")
    resp = api.post(checkout_path(settings.paywall_id), json={"email": new_email("stale"), "priceId": int(stale[0])})
    expect_error(resp, 404, "price_not_found")

