"""Helpers of the PayKit HTTP tests: the bundled world's PayKit keys and a small client that speaks
PayKit's key conventions (header, body `key`, `?key=`)."""

from __future__ import annotations

from typing import Any

import requests

DEMO_PK, DEMO_SK = "pk_live_demo", "sk_live_demo"
STUDIO = "proj_studio"
STUDIO_PK = "pk_live_studio_5f0c2a7d9e3b41c8"
STUDIO_SK = "sk_live_studio_8b1e6d4f2a9c07e53d6b"
STUDIO_WHSEC = "whsec_studio_2d7f9a4c1e8b6035"
LOCKED = "proj_locked"
LOCKED_PK = "pk_live_locked_0e4b7c2d9f1a6358"
LOCKED_SK = "sk_live_locked_7c3a9e1f5d2b84060a1c"
DEMO_WHSEC = "whsec_paykit_demo"


class PayKit:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers["x-paykit-key"] = key
        return self.session.request(method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=30,
                                    allow_redirects=False, **kwargs)

    def access(self, user_id: str, *, key: str | None = None) -> requests.Response:
        return self.request("GET", "/access", key=key, params={"userId": user_id})

    def meter(self, user_id: str, event: str = "image_gen", *, key: str | None = None,
              **extra: Any) -> requests.Response:
        return self.request("POST", "/meter", key=key, json={"userId": user_id, "event": event, **extra})

    def credits(self, user_id: str, *, key: str | None = None, **extra: Any) -> requests.Response:
        return self.request("POST", "/credits", key=key, json={"userId": user_id, **extra})

    def checkout(self, user_id: str, kind: str = "credits", *, key: str | None = None) -> requests.Response:
        return self.request("POST", "/checkout", key=key, json={"userId": user_id, "kind": kind})

    def credits_of(self, user_id: str, *, key: str | None = None) -> int:
        resp = self.access(user_id, key=key)
        assert resp.status_code == 200, resp.text
        return int(resp.json()["credits"])


def error(resp: requests.Response) -> tuple[int, dict[str, Any]]:
    """(status, body) of a PayKit error, asserting its plain `{error}` shape."""
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body.get("error"), str), body
    return resp.status_code, body
