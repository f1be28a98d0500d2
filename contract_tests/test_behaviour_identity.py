"""Who a request is about and who may ask: `getUser`'s identity rules (400 `identity_required`, 404
`identity_not_found` vs `identity_not_on_paywall`, a `user_id` naming nobody yields to the email) and key
checks (401 without or with an unknown key, 403 on another owner's paywall, 404 for an unknown paywall).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from paywall_emulator.contract_tests.client import Api, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import need, start_checkout, user_path
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings


def test_get_user_without_email_or_user_id_is_identity_required(api: Api, settings: Settings) -> None:
    expect_error(api.get(user_path(settings.paywall_id)), 400, "identity_required")


def test_unknown_email_is_identity_not_found(api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    resp = api.get(user_path(settings.paywall_id), params={"email": new_email("nobody")})
    expect_error(resp, 404, "identity_not_found")


def test_malformed_email_is_invalid_email(api: Api, settings: Settings) -> None:
    expect_error(api.get(user_path(settings.paywall_id), params={"email": "not-an-address"}), 400, "invalid_email")


def test_known_user_is_found_and_a_user_id_naming_nobody_yields_to_the_email(api: Api, settings: Settings) -> None:
    email = need(settings.email, "--paywall-email", "an existing user with an active purchase on --paywall-id")
    found = expect_ok(api.get(user_path(settings.paywall_id), params={"email": email}))
    assert found["paid"] is True, f"{email} should have an active purchase on paywall {settings.paywall_id}: {found}"
    assert found["purchases"], found
    again = expect_ok(api.get(user_path(settings.paywall_id),
                              params={"email": email, "user_id": f"conform-{settings.run_id}-nobody"}))
    assert [p["id"] for p in again["purchases"]] == [p["id"] for p in found["purchases"]]


@pytest.mark.writes
def test_email_and_user_id_naming_two_users_is_identity_not_found(
        api: Api, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    email = need(settings.email, "--paywall-email", "an existing user with an active purchase on --paywall-id")
    other = start_checkout(api, contract, settings.paywall_id, new_email("second"))
    resp = api.get(user_path(settings.paywall_id), params={"email": email, "user_id": other["userId"]})
    expect_error(resp, 404, "identity_not_found")


@pytest.mark.writes
def test_user_of_another_paywall_only_is_identity_not_on_paywall(
        api: Api, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    other_id = need(settings.other_id, "--paywall-other-id", "another paywall of the same owner")
    email = new_email("elsewhere")
    start_checkout(api, contract, other_id, email)
    expect_error(api.get(user_path(settings.paywall_id), params={"email": email}), 404, "identity_not_on_paywall")
    expect_ok(api.get(user_path(other_id), params={"email": email}))


def test_another_owners_paywall_is_forbidden(api: Api, settings: Settings) -> None:
    foreign = need(settings.foreign_id, "--paywall-foreign-id", "a paywall of another owner")
    resp = api.get(user_path(foreign), params={"email": settings.email or "someone@example.com"})
    expect_error(resp, 403, "forbidden")


def test_missing_api_key_is_unauthorized(api: Api, settings: Settings) -> None:
    expect_error(api.get(user_path(settings.paywall_id), key=None, params={"email": "a@example.com"}),
                 401, "unauthorized")


def test_unknown_api_key_is_invalid_api_key(api: Api, settings: Settings) -> None:
    resp = api.get(user_path(settings.paywall_id), key=f"sk_conform_{settings.run_id}_unknown",
                   params={"email": "a@example.com"})
    expect_error(resp, 401, "invalid_api_key")


def test_unknown_paywall_is_not_found(api: Api, settings: Settings) -> None:
    resp = api.get(f"/api/v1/paywall/conform-{settings.run_id}-missing/bootstrap", key=None)
    expect_error(resp, 404, "not_found")
