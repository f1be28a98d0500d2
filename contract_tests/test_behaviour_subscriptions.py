"""Subscriptions and the customer portal: cancelling twice is 400 `already_cancelled`, unknown ids are 404
`subscription_not_found`, a caller without credentials is 403; the portal is 403 (with `isTest`) for a
Freemius paywall and for a user without an active subscription.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from paywall_emulator.contract_tests.client import Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import need, start_checkout, user_path
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.writes
CANCEL = "/api/paywall/cancel-subscription"


def _portal(paywall_id: str) -> str:
    return f"/api/v1/paywall/{paywall_id}/get-customer-portal"


def _cancellable(purchases: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((p for p in purchases if p.get("status") in ("active", "trialing")
                 and not p.get("cancel_at_period_end") and p.get("interval") != "lifetime"), None)


@pytest.mark.emulator_only("a subscription to cancel (POST /_emulator/reset restores the seeded one)")
def test_cancelling_twice_is_already_cancelled(api: Api, control: Control, settings: Settings) -> None:
    control.reset()  # generated runs may have cancelled the seeded subscription already
    email = need(settings.email, "--paywall-email", "an existing user with an active subscription")
    details = expect_ok(api.get(user_path(settings.paywall_id), params={"email": email}))
    sub = _cancellable(details["purchases"])
    assert sub is not None, f"{email} has no cancellable subscription on paywall {settings.paywall_id}: {details}"
    body = {"subscriptionId": sub["id"], "paywallId": settings.paywall_id, "email": email,
            "cancellationReason": f"conform {settings.run_id}"}
    done = expect_ok(api.post(CANCEL, json=body))
    assert done["success"] is True and done["subscription"]["id"] == sub["id"], done
    assert done["subscription"]["cancel_at_period_end"] is True, done
    expect_error(api.post(CANCEL, json=body), 400, "already_cancelled")


def test_cancelling_an_unknown_subscription_is_subscription_not_found(api: Api, settings: Settings) -> None:
    email = need(settings.email, "--paywall-email", "an existing user of --paywall-id")
    body = {"subscriptionId": f"sub_conform_{settings.run_id}", "paywallId": settings.paywall_id, "email": email,
            "cancellationReason": "conform"}
    expect_error(api.post(CANCEL, json=body), 404, "subscription_not_found")


def test_cancelling_without_credentials_is_forbidden(api: Api, settings: Settings) -> None:
    body = {"subscriptionId": f"sub_conform_{settings.run_id}", "paywallId": settings.paywall_id,
            "email": "a@example.com", "cancellationReason": "conform"}
    expect_error(api.post(CANCEL, key=None, json=body), 403, "forbidden")


def test_portal_of_a_freemius_paywall_is_forbidden_with_is_test(
        api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    freemius = need(settings.freemius_id, "--paywall-freemius-id", "a Freemius paywall")
    body = expect_error(api.post(_portal(freemius), json={"email": new_email("portal")}), 403, "forbidden")
    assert body.get("isTest") in ("1", "0"), body


def test_portal_without_an_active_subscription_is_forbidden_with_is_test(
        api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    body = expect_error(api.post(_portal(settings.paywall_id), json={"email": new_email("nosub")}), 403, "forbidden")
    assert body.get("isTest") in ("1", "0"), body


def test_portal_without_an_email_is_email_required(api: Api, settings: Settings) -> None:
    expect_error(api.post(_portal(settings.paywall_id), json={}), 400, "email_required")


@pytest.mark.emulator_only("a subscription to cancel (POST /_emulator/reset restores the seeded one)")
def test_cancelling_through_another_paywall_is_subscription_not_found(
        api: Api, control: Control, contract: ContractSession, settings: Settings) -> None:
    control.reset()
    email = need(settings.email, "--paywall-email", "an existing user with an active subscription")
    other = need(settings.other_id, "--paywall-other-id", "another paywall of the same owner")
    start_checkout(api, contract, other, email)  # the user is now on both paywalls
    sub = _cancellable(expect_ok(api.get(user_path(settings.paywall_id), params={"email": email}))["purchases"])
    assert sub is not None
    body = {"subscriptionId": sub["id"], "paywallId": other, "email": email, "cancellationReason": "conform"}
    expect_error(api.post(CANCEL, json=body), 404, "subscription_not_found")
    after = _cancellable(expect_ok(api.get(user_path(settings.paywall_id), params={"email": email}))["purchases"])
    assert after is not None and after["id"] == sub["id"], "a refused cancel through another paywall cancelled it"

