"""Helpers for using the emulator from tests, in or outside pytest.

`ThreadedEmulator` runs an app on its own event loop in a daemon thread, on 127.0.0.1 and a free
port, so blocking clients (requests, Schemathesis, other languages' SDKs via subprocess) can call
it. `ControlClient` drives the `/_emulator` control API over plain HTTP (stdlib only).
`verify_signature` checks a webhook delivery the way a merchant backend should.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from .app import create_app
from .config import EmulatorConfig
from .keys import WORLD_KEY
from .world import World

__all__ = ["ControlClient", "ControlError", "ThreadedEmulator", "verify_signature"]


class ThreadedEmulator:
    """An emulator served from a background thread; use as a context manager.

    >>> with ThreadedEmulator() as emu:
    ...     emu.base_url  # 'http://127.0.0.1:PORT'
    """

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.app: web.Application | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> ThreadedEmulator:
        self._thread = threading.Thread(target=self._run, name="paywall-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        if not self._ready.is_set():
            raise RuntimeError("the emulator did not start within 30 s")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._loop = self._thread = None

    def __enter__(self) -> ThreadedEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        if self.config.public_origin is None and self.port:
            self.config.public_origin = f"http://{self.host}:{self.port}"
        self.app = create_app(self.config)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        if self.config.public_origin is None:
            self.config.public_origin = f"http://{self.host}:{self.port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- conveniences --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def world(self) -> World:
        if self.app is None:
            raise RuntimeError("the emulator is not running")
        return self.app[WORLD_KEY]

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.base_url)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the emulator's loop thread and return its result (for state access
        from tests without racing the server)."""
        if self._loop is None:
            raise RuntimeError("the emulator is not running")

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)


class ControlError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


@dataclass(slots=True)
class ControlClient:
    """A tiny client of `/_emulator` (stdlib only, so it works anywhere)."""

    base_url: str
    timeout: float = 30.0

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}/_emulator{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            raise ControlError(exc.code, json.loads(payload) if payload else None) from None
        return json.loads(raw) if raw else None

    def reset(self) -> Any:
        return self.request("POST", "/reset")

    def load_seed(self, seed: Mapping[str, Any]) -> Any:
        return self.request("POST", "/seed", dict(seed))

    def state(self) -> Any:
        return self.request("GET", "/state")

    def clock(self) -> Any:
        return self.request("GET", "/clock")

    def set_clock(self, now: str) -> Any:
        return self.request("POST", "/clock", {"now": now})

    def advance(self, *, seconds: float = 0, days: float = 0) -> Any:
        return self.request("POST", "/clock/advance", {"seconds": seconds, "days": days})

    def mint_token(self, paywall_id: str, *, email: str | None = None, user_id: str | None = None) -> str:
        body: dict[str, Any] = {"paywall_id": paywall_id}
        if email:
            body["email"] = email
        if user_id:
            body["user_id"] = user_id
        return str(self.request("POST", "/tokens", body)["access_token"])


def verify_signature(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when a delivery's `X-Signature` (hex) and `X-Monetize-Signature` (`sha256=<hex>`) both
    match HMAC-SHA256 of the raw body with the endpoint secret."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    lower = {k.lower(): v for k, v in headers.items()}
    plain = lower.get("x-signature", "")
    prefixed = lower.get("x-monetize-signature", "")
    return hmac.compare_digest(plain, expected) and hmac.compare_digest(prefixed, f"sha256={expected}")
