"""The browser contract (wire contract §1.6): every operation of the spec answers a CORS preflight that
carries the headers the SDK sends, with `Authorization` admitted by name (a `*` does not cover it), any
origin allowed (the SDK omits credentials), and `X-Query-Type` exposed on gateway answers.
"""

from __future__ import annotations

import re

import pytest

from paywall_emulator.contract_tests.client import Api
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings
from paywall_emulator.contract_tests.spec import OperationInfo, load

ORIGIN = "https://app.example.com"
# What the SDK sends (§1.2, §E5, §E10, §E11), per kind of call.
COMMON = ("Accept", "Content-Type", "X-SDK-Version", "X-Paywall-Id", "X-SDK-Capabilities", "Authorization")
EXTRA = {"startCheckout": ("Idempotency-Key", "X-Api-Key"), "getUserState": ("X-User-Email",),
         "getBootstrap": ("X-User-Email",), "ingestEvents": ("X-Visitor-Id", "X-User-Id"),
         "adjustBalance": ("X-Api-Key",), "getUser": ("X-Api-Key",), "cancelSubscription": ("X-Api-Key",),
         "getCustomerPortal": ("X-Api-Key",), "withdrawTokens": ("X-Api-Key",)}
GATEWAY = ("X-User-ID", "Prefer")


def _concrete(op: OperationInfo, settings: Settings) -> str:
    values = {"id": settings.paywall_id, "providerId": settings.provider_id or "provider", "path": "v1/models"}
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), op.path)


def _headers(op: OperationInfo) -> tuple[str, ...]:
    return COMMON + EXTRA.get(op.operation_id, ()) + (GATEWAY if "gateway" in op.tags else ())


def _listed(value: str) -> set[str]:
    return {h.strip().lower() for h in value.split(",") if h.strip()}


@pytest.mark.parametrize("operation", [op.label for op in load().operations])
def test_a_preflight_admits_the_sdks_headers(api: Api, contract: ContractSession, settings: Settings,
                                             operation: str) -> None:
    op = next(o for o in contract.contract.operations if o.label == operation)
    sent = _headers(op)
    resp = api.request("OPTIONS", _concrete(op, settings), key=None, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": op.method,
        "Access-Control-Request-Headers": ",".join(h.lower() for h in sent)})
    assert 200 <= resp.status_code < 300, f"preflight of {operation}: HTTP {resp.status_code} {resp.text[:200]}"
    origin = resp.headers.get("Access-Control-Allow-Origin")
    assert origin in ("*", ORIGIN), f"preflight of {operation}: Access-Control-Allow-Origin {origin!r}"
    methods = _listed(resp.headers.get("Access-Control-Allow-Methods", ""))
    assert op.method.lower() in methods or "*" in methods, f"{op.method} not in Allow-Methods {sorted(methods)}"
    allowed = _listed(resp.headers.get("Access-Control-Allow-Headers", ""))
    missing = [h for h in sent if h.lower() not in allowed and not (h != "Authorization" and "*" in allowed)]
    assert not missing, f"preflight of {operation}: Access-Control-Allow-Headers {sorted(allowed)} lacks {missing}"


def test_answers_carry_cors_and_errors_too(api: Api, settings: Settings) -> None:
    for path in (f"/api/v1/paywall/{settings.paywall_id}/bootstrap", "/api/v1/paywall/conform-no-such/bootstrap"):
        resp = api.get(path, key=None, headers={"Origin": ORIGIN})
        assert resp.headers.get("Access-Control-Allow-Origin") in ("*", ORIGIN), (
            f"GET {path} (HTTP {resp.status_code}) has no Access-Control-Allow-Origin: {dict(resp.headers)}")


@pytest.mark.writes
def test_gateway_answers_expose_x_query_type(api: Api, settings: Settings) -> None:
    provider = settings.provider_id
    if not (provider and settings.tokenized_id):
        pytest.skip("needs --paywall-provider-id and --paywall-tokenized-id")
    if not settings.control:
        pytest.skip("emulator_only: needs an emulator target (on a deployment a gateway call forwards to its paid "
                    "upstream)")
    resp = api.get(f"/api/v1/api-gateway/{provider}/v1/models", key=None, params={"paywall_id": settings.tokenized_id},
                   headers={"Origin": ORIGIN, "X-User-ID": f"conform-{settings.run_id}-cors"})
    assert resp.status_code == 200, f"gateway call: HTTP {resp.status_code} {resp.text[:200]}"
    assert resp.headers.get("X-Query-Type"), f"no X-Query-Type on a charged gateway answer: {dict(resp.headers)}"
    exposed = _listed(resp.headers.get("Access-Control-Expose-Headers", ""))
    assert "x-query-type" in exposed, f"Access-Control-Expose-Headers {sorted(exposed)} does not expose X-Query-Type"
