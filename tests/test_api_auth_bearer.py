"""Every data route that accepts a Bearer, with the tokens the sign-in routes issue: a live token
works; once its hour on the emulator clock is over it is 401 `invalid_token` and the call changes
nothing; the SDK's recovery (refresh, then the same call again with the new token) succeeds; a
signed-out token is 401 too. The list of routes is read from the spec, so a new Bearer route
without a case here fails the suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from paywall_emulator.engine.openapi import load_document, spec_path
from paywall_emulator.testing import ControlClient

from .auth_support import frozen
from .conftest import ALICE, STRIPE_PW, TOKEN_PW, Api, error_of

ALICE_SUB = "sub_seedAlicePro000000000001"
STANDARD = "3f6c1a52-7d2e-4b8f-9a10-5c4e2b7d9f01"  # paywall 15's fake standard provider
CHAT = {"model": "fake-gpt", "messages": [{"role": "user", "content": "hello"}]}


@dataclass(frozen=True)
class Case:
    operations: tuple[str, ...]  # the spec's operationIds this case stands for
    paywall: str
    send: Callable[[Api, str], requests.Response]


def gateway(api: Api, token: str, path: str = "/v1/chat/completions") -> requests.Response:
    return api.post(f"/api/v1/api-gateway/{STANDARD}{path}?paywall_id={TOKEN_PW}", bearer=token, json=CHAT,
                    headers={"X-Paywall-Id": TOKEN_PW})


CASES = {
    "bootstrap": Case(("getBootstrap",), STRIPE_PW,
                      lambda api, t: api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap", bearer=t)),
    "user-state": Case(("getUserState",), STRIPE_PW,
                       lambda api, t: api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state", bearer=t)),
    "user": Case(("getUser",), STRIPE_PW, lambda api, t: api.get(f"/api/v1/paywall/{STRIPE_PW}/user", bearer=t)),
    "balances": Case(("getBalances",), TOKEN_PW,
                     lambda api, t: api.get(f"/api/v1/paywall/{TOKEN_PW}/balances", bearer=t)),
    "start-checkout": Case(("startCheckout",), STRIPE_PW, lambda api, t: api.post(
        f"/api/v1/paywall/{STRIPE_PW}/start-checkout", bearer=t, headers={"Idempotency-Key": f"k-{t[-8:]}"},
        json={"priceId": 103, "email": "alice@example.com", "ignoreActivePurchase": True})),
    "customer-portal": Case(("getCustomerPortal",), STRIPE_PW, lambda api, t: api.post(
        f"/api/v1/paywall/{STRIPE_PW}/get-customer-portal", bearer=t, json={})),
    "cancel-subscription": Case(("cancelSubscription",), STRIPE_PW, lambda api, t: api.post(
        "/api/paywall/cancel-subscription", bearer=t, headers={"X-Paywall-Id": STRIPE_PW},
        json={"subscriptionId": ALICE_SUB, "paywallId": STRIPE_PW, "cancellationReason": "too expensive"})),
    "support-ticket": Case(("createSupportTicket",), STRIPE_PW, lambda api, t: api.post(
        f"/api/v1/paywall/{STRIPE_PW}/support/ticket", bearer=t,
        json={"subject": "Refund request", "content": "Please refund.", "customer_email": None})),
    "gateway": Case(tuple(f"callGateway{p}{m}" for p in ("", "Path")
                          for m in ("Get", "Post", "Put", "Patch", "Delete")), TOKEN_PW, gateway),
}


def bearer_data_operations() -> set[str]:
    """The spec's operations outside sign-in itself that accept `BearerAuth`."""
    doc = load_document(spec_path("monetize.openapi.yaml"))
    found = set()
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "auth" not in op.get("tags", []) and any(
                    "BearerAuth" in s for s in op.get("security", doc.get("security", []))):
                found.add(op["operationId"])
    return found


def test_every_bearer_route_has_a_case() -> None:
    assert bearer_data_operations() == {op for case in CASES.values() for op in case.operations}


def sign_in_alice(api: Api, control: ControlClient, paywall: str) -> dict[str, Any]:
    """Alice (seeded, no password) signs in on `paywall` with an e-mailed code."""
    assert api.post(f"/api/v1/paywall/{paywall}/auth/otp/send", json={"email": "alice@example.com"}).ok
    code = control.mailbox("alice@example.com")[0]["code"]
    resp = api.post(f"/api/v1/paywall/{paywall}/auth/otp/verify", json={"email": "alice@example.com", "token": code})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["user"]["id"] == ALICE
    return body


@pytest.mark.parametrize("name", sorted(CASES))
def test_sign_in_tokens_on_every_bearer_route(api: Api, control: ControlClient, name: str) -> None:
    case = CASES[name]
    frozen(control)
    signed = sign_in_alice(api, control, case.paywall)
    control.clock.advance(minutes=61)  # the token's hour is over
    other = sign_in_alice(api, control, case.paywall)
    assert api.post(f"/api/v1/paywall/{case.paywall}/auth/signout", bearer=other["access_token"]).ok
    before = control.state()["monetize"]
    assert error_of(case.send(api, signed["access_token"])) == (401, "invalid_token")
    assert error_of(case.send(api, other["access_token"])) == (401, "invalid_token")
    assert control.state()["monetize"] == before  # both refused before any work
    fresh = api.post(f"/api/v1/paywall/{case.paywall}/auth/refresh",
                     json={"refresh_token": signed["refresh_token"]}).json()
    replay = case.send(api, fresh["access_token"])  # the SDK's one replay after its refresh
    assert replay.status_code == 200, replay.text
