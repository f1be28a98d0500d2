"""Signed webhooks (emulator only: registering an endpoint needs the control API): a delivery verifies with
both documented recipes (`X-Signature: <hex>` and `X-Monetize-Signature: sha256=<hex>`, HMAC-SHA256 of
the raw body with the endpoint secret), carries the documented User-Agent, and its body matches the
event's schema under the spec's `webhooks:` (Schemathesis does not test OAS 3.1 webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from paywall_emulator.contract_tests.client import Api, Control, expect_ok
from paywall_emulator.contract_tests.helpers import need, user_path
from paywall_emulator.contract_tests.receiver import Delivery, Receiver
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = [pytest.mark.writes,
              pytest.mark.emulator_only("a webhook endpoint registered through POST /_emulator/webhooks/endpoints")]
@pytest.fixture
def endpoint(control: Control, settings: Settings) -> Iterator[tuple[Receiver, str]]:
    control.reset()
    secret = f"whsec_conform_{settings.run_id}"
    with Receiver() as receiver:
        created = control.request("POST", "/webhooks/endpoints", {"url": receiver.url, "secret": secret})
        try:
            yield receiver, secret
        finally:
            control.request("DELETE", f"/webhooks/endpoints/{created['id']}", expect=(204, 404))


def _verify(contract: ContractSession, delivery: Delivery, secret: str) -> dict[str, Any]:
    expected = hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    plain = delivery.headers.get("x-signature", "")
    prefixed = delivery.headers.get("x-monetize-signature", "")
    assert hmac.compare_digest(plain, expected), (
        f"X-Signature {plain!r} is not HMAC-SHA256(secret, raw body) = {expected!r} (headless-guide recipe)")
    assert hmac.compare_digest(prefixed, f"sha256={expected}"), (
        f"X-Monetize-Signature {prefixed!r} is not 'sha256=' + HMAC-SHA256(secret, raw body) (webhooks-page recipe)")
    assert delivery.headers.get("user-agent") == "Monetize-Webhooks/1.0", delivery.headers
    assert delivery.headers.get("content-type", "").startswith("application/json"), delivery.headers
    import json

    event = json.loads(delivery.body)
    assert event.get("type") in contract.contract.webhook_types(), event
    schema = contract.contract.webhook_schema(event["type"])
    errors = sorted(jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
                    .iter_errors(event), key=lambda e: list(e.absolute_path))
    assert not errors, f"{event['type']} body violates its webhook schema: {errors[0].message} at " \
                       f"{'/'.join(map(str, errors[0].absolute_path)) or '/'}"
    return dict(event)


def test_a_cancellation_webhook_verifies_with_both_recipes(
        api: Api, contract: ContractSession, settings: Settings, endpoint: tuple[Receiver, str]) -> None:
    receiver, secret = endpoint
    email = need(settings.email, "--paywall-email", "an existing user with an active subscription")
    purchases = expect_ok(api.get(user_path(settings.paywall_id), params={"email": email}))["purchases"]
    sub = next(p for p in purchases if p.get("status") == "active" and not p.get("cancel_at_period_end")
               and p.get("interval") != "lifetime")
    expect_ok(api.post("/api/paywall/cancel-subscription",
                       json={"subscriptionId": sub["id"], "paywallId": settings.paywall_id, "email": email,
                             "cancellationReason": f"conform {settings.run_id}"}))
    event = _verify(contract, receiver.next(), secret)
    assert event["type"] == "subscription.updated", event
    assert event["data"]["subscription"]["id"] == sub["id"], event
    assert event["data"]["subscription"]["cancel_at_period_end"] is True, event
