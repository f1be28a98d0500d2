"""Shared pieces of the token and gateway tests: a seed with extra providers and a second, non-UTC
tokenized paywall, loading it for one test, the broken-upstream world and its `tokens` fixture, a local
aiohttp server thread (a "real" upstream), and the SDK's own reading of gateway errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from aiohttp import web

from paywall_emulator.products.monetize.upstream import UPSTREAMS_KEY, Upstreams
from paywall_emulator.testing import ControlClient, ThreadedEmulator
from tests.worlds import monetize_section

ACME_KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
TOKEN_PW = "15"
NY_PW = "16"  # America/New_York, added by token_seed()
ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
CAROL = "ca201000-0000-4000-8000-000000000003"
STANDARD = "3f6c1a52-7d2e-4b8f-9a10-5c4e2b7d9f01"
ADVANCED = "8a2d4e6f-1b3c-4d5e-8f90-a1b2c3d4e5f6"
FREE = "c0ffee00-0000-4000-8000-0000000f4ee0"
FAIL_503 = "f5030000-0000-4000-8000-000000000503"
UNREACHABLE = "dead0000-0000-4000-8000-00000000dead"
DISABLED = "d15ab1ed-0000-4000-8000-000000000000"
COSTLY = "c0571200-0000-4000-8000-000000000003"
REMOTE = "7e307e00-0000-4000-8000-000000000001"  # upstream URL set per test
NY_STANDARD = "16000000-0000-4000-8000-000000000001"
NY_ADVANCED = "16000000-0000-4000-8000-000000000002"
NY_FREE = "16000000-0000-4000-8000-000000000003"
NY_FAIL = "16000000-0000-4000-8000-000000000503"
CHAT = {"model": "fake-gpt", "messages": [{"role": "user", "content": "tell me a story"}]}
# fake providers on paywall 15 that go wrong after their status line (broken_upstreams_world())
BREAK_2 = "b4e00000-0000-4000-8000-000000000002"
BREAK_0 = "b4e00000-0000-4000-8000-000000000000"
BREAK_LATE = "b4e00000-0000-4000-8000-000000000100"
STALL_1 = "57a10000-0000-4000-8000-000000000001"
FAIL_BREAK = "f5030000-0000-4000-8000-0000000b4e00"
FAIL_STALL = "f5000000-0000-4000-8000-00000057a100"


def token_seed(*, remote_url: str = "http://127.0.0.1:9",
               remote_headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The bundled seed plus failing/disabled/costly/remote providers on paywall 15 and a tokenized
    paywall 16 in America/New_York (bob linked with empty balances)."""
    doc = monetize_section()
    pw15 = next(p for p in doc["paywalls"] if str(p["id"]) == TOKEN_PW)
    pw15["providers"] += [
        {"id": FAIL_503, "type": "standard", "upstream": "fake", "fake": {"fail_status": 503}},
        {"id": UNREACHABLE, "type": "standard", "upstream": "fake", "fake": {"fail_connection": True}},
        {"id": DISABLED, "type": "standard", "enabled": False},
        {"id": COSTLY, "type": "advanced", "cost": 3},
        {"id": REMOTE, "type": "standard", "upstream": remote_url, "headers": remote_headers or {}},
    ]
    doc["paywalls"].append({
        "id": NY_PW, "owner": "own_acme", "name": "Acme Chat NY", "acquirer": "stripe",
        "timezone": "America/New_York",
        "prices": [{"id": "1601", "currency": "USD", "amount": 5.0, "interval": "month"}],
        "tokenization": {"types": [
            {"type": "standard", "name": "Standard", "monthly": 300, "daily_trial": 3},
            {"type": "advanced", "name": "Advanced", "monthly": 30, "daily_trial": 1},
            {"type": "free", "name": "Free", "monthly": 0, "daily_trial": 0},
        ]},
        "providers": [
            {"id": NY_STANDARD, "type": "standard"}, {"id": NY_ADVANCED, "type": "advanced"},
            {"id": NY_FREE, "type": "free"}, {"id": NY_FAIL, "type": "standard", "fake": {"fail_status": 503}},
        ],
    })
    bob = next(u for u in doc["users"] if u["id"] == BOB)
    bob["paywalls"].append({"paywall": NY_PW, "meta": {"userId": "ext_bob_ny"},
                            "balances": {"standard": 0, "advanced": 0}})
    return doc


def broken_upstreams_world() -> dict[str, Any]:
    """token_seed() plus paywall-15 fake providers whose bodies break off or stall (after N chunks),
    some after a 5xx status line."""
    doc = token_seed()
    pw15 = next(p for p in doc["paywalls"] if str(p["id"]) == TOKEN_PW)
    pw15["providers"] += [
        {"id": BREAK_2, "type": "standard", "fake": {"break_after_chunks": 2}},
        {"id": BREAK_0, "type": "standard", "fake": {"break_after_chunks": 0}},
        {"id": BREAK_LATE, "type": "standard", "fake": {"break_after_chunks": 100}},
        {"id": STALL_1, "type": "standard", "fake": {"stall_after_chunks": 1}},
        {"id": FAIL_BREAK, "type": "standard", "fake": {"fail_status": 503, "break_after_chunks": 0}},
        {"id": FAIL_STALL, "type": "standard", "fake": {"fail_status": 500, "stall_after_chunks": 0}},
    ]
    return doc


@contextmanager
def seeded(emu: ThreadedEmulator, doc: dict[str, Any]) -> Iterator[ControlClient]:
    """Load `doc` (through the control API) for one test; the bundled seed is back afterwards."""
    emu.control.load_world({"monetize": doc})
    try:
        yield emu.control
    finally:
        emu.restore()


@pytest.fixture
def tokens(emu: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    """The broken-upstream world, bob on paywall 15 with 5 `standard` tokens (a credit on top of his 0).
    A module uses it with `from .gateway_support import tokens as tokens`."""
    with seeded(emu, broken_upstreams_world()):
        adjust(emu.base_url, "standard", 5, "credit")
        assert balances(emu.base_url)["standard"] == 5
        yield emu


def upstreams(emu: ThreadedEmulator) -> Upstreams:
    """The running app's upstream registry (its relay counters and the fake provider)."""
    assert emu.app is not None
    return emu.app[UPSTREAMS_KEY]


def freeze(control: ControlClient) -> datetime:
    """Freeze the emulator clock 5 s from now (setClock freezes) and return that instant."""
    at = control.clock.now() + timedelta(seconds=5)
    return control.clock.set(at.isoformat())


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds_to_midnight(now: datetime, timezone: str) -> float:
    """Seconds from `now` to the next local midnight in `timezone`."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    tomorrow = local.date() + timedelta(days=1)
    return (datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone) - now).total_seconds()


def gateway(base_url: str, provider: str, path: str = "", *, paywall: str | None = TOKEN_PW) -> str:
    url = f"{base_url}/api/v1/api-gateway/{provider}" + (f"/{path}" if path else "")
    return url + (f"?paywall_id={paywall}" if paywall is not None else "")


def balances(base_url: str, *, paywall: str = TOKEN_PW, user_id: str = BOB,
             session: requests.Session | None = None) -> dict[str, int]:
    """The user's balances as the owner reads them (GET user, X-Api-Key)."""
    resp = (session or requests).get(f"{base_url}/api/v1/paywall/{paywall}/user", params={"user_id": user_id},
                        headers={"X-Api-Key": ACME_KEY}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {b["type"]: b["count"] for b in resp.json()["balances"]}


def adjust(base_url: str, type_name: str, amount: int, op: str, *, paywall: str = TOKEN_PW,
           user_id: str = BOB, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).post(
        f"{base_url}/api/v1/paywall/{paywall}/balances", headers={"X-Api-Key": ACME_KEY},
        json={"user_id": user_id, "type": type_name, "amount": amount, "op": op}, timeout=30)


def sdk_gateway_error(resp: requests.Response) -> dict[str, Any]:
    """What the SDK's ApiGatewayClient makes of a non-2xx answer (wire contract §E11, §4.6)."""
    is_json = "application/json" in resp.headers.get("Content-Type", "")
    try:
        body = resp.json() if is_json else None
    except ValueError:
        body = None
    if resp.status_code == 402:
        details = (body or {}).get("details") or {}
        raw = details.get("balances") or []
        first = raw[0] if raw else []
        rows = first if isinstance(first, list) else (first.get("balances") if isinstance(first, dict) else [])
        return {"name": "QuotaExceededError", "code": "not_enough_queries", "status": 402,
                "message": "Not enough queries", "balances": rows or [],
                "queryType": details.get("queryType") or "", "currentBalance": details.get("currentBalance")}
    code = None
    if isinstance(body, dict):
        code = body.get("code") or body.get("error")
    return {"name": "PaywallError", "code": code if isinstance(code, str) else f"http_{resp.status_code}",
            "status": resp.status_code, "message": resp.reason or "Gateway request failed"}


class ServedApp:
    """An aiohttp app served on 127.0.0.1 (free port) from its own loop thread: a "real" upstream."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, name="served-app", daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn()` on the server's loop (create or set asyncio events there)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)


def wait_until(predicate: Callable[[], bool], *, what: str, limit: float = 20.0) -> None:
    """Wait for the emulator to reach a state (a guard against hanging, not a timing assertion)."""
    import time

    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)
