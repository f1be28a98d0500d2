"""Sign-in helpers shared by the auth tests: the password they sign up with, a call to a paywall's auth
route, its 200 JSON body, a frozen clock for exact expiry values, and the OAuth flow's steps (init with a
PKCE challenge, a press on the fake provider's page, the code in its redirect, the exchange)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from paywall_emulator.testing import ControlClient

from .conftest import STRIPE_PW, Api

PASSWORD = "correct-horse"
VERIFIER = "v" * 43 + "0123456789_-abcdefghijklmnopqrstuvwxyzABCDE"  # 86 characters, like the SDK's


def auth(api: Api, route: str, body: dict[str, Any] | None = None, *, paywall: str = STRIPE_PW,
         bearer: str | None = None) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/auth/{route}", json=body, bearer=bearer)


def ok(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    return body


def frozen(control: ControlClient) -> datetime:
    """Freeze the emulator clock where it is (exact expiry values) and answer that instant."""
    now = (control.clock.now() + timedelta(seconds=5)).replace(microsecond=0)  # ahead, however slow the machine
    control.clock.set(now, frozen=True)
    return now


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def init(api: Api, *, bearer: str | None = None, provider: str = "google", verifier: str = VERIFIER) -> str:
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/oauth/init", bearer=bearer, json={
        "provider": provider, "code_challenge": challenge(verifier), "code_challenge_method": "s256"})
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["authorize_url"]
    return url


def press(api: Api, authorize_url: str, action: str, **identity: str) -> requests.Response:
    flow = parse_qs(urlsplit(authorize_url).query)["flow"][0]
    return api.session.post(f"{api.base_url}/_emulator/oauth/authorize", data={"flow": flow, "action": action,
                                                                              **identity},
                            allow_redirects=False, timeout=30)


def code_of(resp: requests.Response) -> str:
    assert resp.status_code == 303, resp.text
    location = resp.headers["Location"]
    assert location.startswith("http://127.0.0.1:") and "/paywall/v3/auth/callback?code=" in location
    return parse_qs(urlsplit(location).query)["code"][0]


def exchange(api: Api, code: str, verifier: str = VERIFIER, **extra: Any) -> requests.Response:
    return api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/oauth/exchange",
                    json={"auth_code": code, "code_verifier": verifier, **extra})
