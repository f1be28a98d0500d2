"""The metered gateway: an exhausted balance is 402 `not-enough-queries` with the body the SDK reads
(`details.balances[0].balances`, `details.queryType`, `details.currentBalance`) and nothing forwarded; a
caller with no identity is 401 `unauthorized`. The balance is drained with debits first, so the test
never reaches the provider's upstream (which may be a paid API on a real deployment).
"""

from __future__ import annotations

from collections.abc import Callable

import jsonschema
import pytest

from paywall_emulator.contract_tests.client import Api, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import adjust, balances, need, start_checkout
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.writes


def _gateway(provider_id: str, paywall_id: str) -> str:
    return f"/api/v1/api-gateway/{provider_id}/v1/chat/completions?paywall_id={paywall_id}"


def test_an_exhausted_balance_is_402_with_the_quota_body(
        api: Api, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    paywall = need(settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    provider = need(settings.provider_id, "--paywall-provider-id", "a gateway provider (not of the free type)")
    user_id = start_checkout(api, contract, paywall, new_email("quota"))["userId"]
    for type_, count in balances(api, paywall, user_id).items():
        if count > 0:
            expect_ok(adjust(api, paywall, user_id, type_, count, "debit"))
    resp = api.post(_gateway(provider, paywall), key=None, headers={"X-User-ID": user_id},
                    json={"model": "conform", "messages": [{"role": "user", "content": f"conform {settings.run_id}"}]})
    body = expect_error(resp, 402, "not-enough-queries")
    document = contract.contract.document
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": "#/components/schemas/QuotaExceededError", "components": document["components"]}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
    assert not errors, f"402 body violates QuotaExceededError: {errors[0].message}; body={body}"
    details = body["details"]
    rows = details["balances"][0]["balances"]
    assert {r["type"]: r["count"] for r in rows}.get(details["queryType"]) == 0, body
    assert resp.headers.get("X-Query-Type") is None, "a refused call must not report a charge"
    assert all(n == 0 for n in balances(api, paywall, user_id).values())


def test_a_gateway_call_without_identity_is_unauthorized(api: Api, settings: Settings) -> None:
    paywall = need(settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    provider = need(settings.provider_id, "--paywall-provider-id", "a gateway provider")
    resp = api.post(_gateway(provider, paywall), key=None, json={"messages": []})
    expect_error(resp, 401, "unauthorized")
