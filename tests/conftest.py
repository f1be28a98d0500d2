"""Fixtures of the emulator's own tests: one threaded emulator per session (per xdist worker),
reset to its seed before every test, and an HTTP client bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ControlClient, ThreadedEmulator

ACME_KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
RIVAL_KEY = "sk_emulator_rival_0a9b8c7d6e5f4a3b"
STRIPE_PW, PADDLE_PW, FREEMIUS_PW, TOKEN_PW = "3", "7", "12", "15"
CHARGEBEE_PW, OVERPAY_PW, RIVAL_PW = "31", "32", "40"
ALICE = "a11ce000-0000-4000-8000-000000000001"


class Api:
    """A thin requests wrapper: `api.get("/api/v1/...", key=ACME_KEY)` etc., and a checkout started."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method: str, path: str, *, key: str | None = None, bearer: str | None = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        h = dict(headers or {})
        if key is not None:
            h["X-Api-Key"] = key
        if bearer is not None:
            h["Authorization"] = f"Bearer {bearer}"
        return self.session.request(method, self.base_url + path, headers=h, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def start_checkout(self, body: dict[str, Any], *, paywall: str = STRIPE_PW,
                       key: str | None = ACME_KEY) -> dict[str, Any]:
        """Start a monetize checkout that must succeed (as the owner by default): its 200 answer."""
        resp = self.post(f"/api/v1/paywall/{paywall}/start-checkout", key=key, json=body)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


@pytest.fixture(scope="session")
def emulator() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig(strict_responses=True)) as emu:
        yield emu


@pytest.fixture
def emu(emulator: ThreadedEmulator) -> ThreadedEmulator:
    emulator.restore()
    return emulator


@pytest.fixture
def api(emu: ThreadedEmulator) -> Api:
    return Api(emu.base_url)


@pytest.fixture
def control(emu: ThreadedEmulator) -> ControlClient:
    return emu.control


def error_of(resp: requests.Response) -> tuple[int, str]:
    """(status, machine code) of an error response, asserting the documented error shape."""
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert {"error", "code", "message"} <= set(body), body
    return resp.status_code, body["code"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives Chromium (the `browser` fixture of the page tests) is `slow`: each module launches
    a browser, ~20 s of CPU over the suite, so the inner loop (`-m "not slow"`) leaves them out."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
