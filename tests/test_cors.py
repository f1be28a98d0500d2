"""CORS for browser clients: preflights answered for every route, every header the SDK sends listed
explicitly (a `*` does not cover Authorization), `X-Query-Type` exposed, and CORS headers on
successes and errors alike."""

from __future__ import annotations

import pytest
import requests

from .conftest import STRIPE_PW, Api

SDK_HEADERS = ["Authorization", "Content-Type", "Accept", "X-Api-Key", "Idempotency-Key", "X-Paywall-Id",
               "X-SDK-Version", "X-SDK-Capabilities", "X-User-Email", "X-User-ID", "X-Visitor-Id"]
PATHS = [f"/api/v1/paywall/{STRIPE_PW}/bootstrap", f"/api/v1/paywall/{STRIPE_PW}/start-checkout",
         f"/api/v1/paywall/{STRIPE_PW}/user-state", "/api/paywall/cancel-subscription",
         f"/api/v1/paywall/{STRIPE_PW}/events", "/api/v1/api-gateway/3f6c1a52/v1/chat/completions"]


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


@pytest.mark.parametrize("path", PATHS)
def test_preflight_is_answered_with_every_sdk_header(api: Api, path: str) -> None:
    resp = api.request("OPTIONS", path, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,x-user-email"})
    assert resp.status_code in (200, 204)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    allowed = listed(resp.headers["Access-Control-Allow-Headers"])
    assert {h.lower() for h in SDK_HEADERS} <= allowed
    assert "*" not in allowed  # a wildcard would not cover Authorization
    assert {"get", "post", "options"} <= listed(resp.headers["Access-Control-Allow-Methods"])
    assert "x-query-type" in listed(resp.headers["Access-Control-Expose-Headers"])


def test_simple_responses_carry_cors_headers(api: Api) -> None:
    resp = api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap", headers={"Origin": "https://app.example.com"})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert {"x-query-type", "x-emulator-spec-violation"} <= listed(resp.headers["Access-Control-Expose-Headers"])


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/paywall/9999/bootstrap", 404),
    ("GET", "/no/such/route", 404),
    ("DELETE", f"/api/v1/paywall/{STRIPE_PW}/bootstrap", 405),
    ("POST", f"/api/v1/paywall/{STRIPE_PW}/user", 405),
])
def test_errors_carry_cors_headers_too(api: Api, method: str, path: str, status: int) -> None:
    resp = api.request(method, path, headers={"Origin": "https://app.example.com"})
    assert resp.status_code == status
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_options_without_a_preflight_request_is_not_a_preflight(api: Api) -> None:
    resp = api.request("OPTIONS", f"/api/v1/paywall/{STRIPE_PW}/bootstrap")
    assert resp.status_code == 405
    assert resp.json()["code"] == "method_not_allowed"


PAYWALLS_HEADERS = {"Authorization": "Bearer sk-paywalls-v1-emulator-demo", "Origin": "https://app.example.com"}
CHAT = {"model": "fake-gpt-emulator", "messages": [{"role": "user", "content": "hi"}]}


def cors_of(resp: requests.Response) -> tuple[str | None, set[str]]:
    exposed = listed(resp.headers.get("Access-Control-Expose-Headers", ""))
    return resp.headers.get("Access-Control-Allow-Origin"), exposed


@pytest.mark.parametrize(("user", "stream"), [("alice", False), ("alice", True), ("broke", False), ("broke", True)])
def test_every_kind_of_product_answer_carries_cors_headers(api: Api, user: str, stream: bool) -> None:
    """Relayed and paywall-required Paywalls.ai answers, JSON and streamed (a stream's headers are sent
    by its handler, not by the pipeline), carry the same CORS headers as every other product answer."""
    resp = api.post("/v1/chat/completions", json={**CHAT, "user": user, "stream": stream}, headers=PAYWALLS_HEADERS)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream" if stream else "application/json")
    origin, exposed = cors_of(resp)
    assert origin == "*" and {"x-query-type", "x-emulator-spec-violation"} <= exposed


def test_paykit_errors_injected_faults_and_preflights_carry_cors_headers_the_control_api_none(api: Api) -> None:
    refused = api.post("/api/v1/meter", json={"userId": "u", "event": "e"}, headers={"x-paykit-key": "sk_live_nope"})
    assert refused.status_code == 401 and cors_of(refused)[0] == "*"
    fault = api.post("/_emulator/faults", json={"operation_id": "getBootstrap", "status": 503})
    assert fault.status_code == 201 and cors_of(fault) == (None, set())  # the control API: same origin only
    injected = api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap")
    assert injected.status_code == 503 and injected.headers["X-Emulator-Fault"] == fault.json()["id"]
    assert cors_of(injected)[0] == "*" and "x-query-type" in cors_of(injected)[1]
    assert cors_of(api.get("/_emulator/health")) == (None, set())
    preflight = api.request("OPTIONS", "/api/v1/meter", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and cors_of(preflight)[0] == "*"
    assert "x-paykit-key" in listed(preflight.headers["Access-Control-Allow-Headers"])
