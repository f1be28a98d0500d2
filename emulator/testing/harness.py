"""`ThreadedEmulator`: the whole emulator served on 127.0.0.1 from its own event loop in a daemon thread,
so blocking clients (requests, Schemathesis, other languages' SDKs via subprocess) can call it; what
the `paywall_emulator` fixture hands out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from ..app import create_app
from ..config import EmulatorConfig
from ..engine.keys import WORLD_KEY
from ..engine.world import World
from .control import ControlClient, PaywallClock
from .loop import LoopThread, ThreadedServer, serve
from .monetize import Paywalls, monetize_store, paywalls_of

T = TypeVar("T")


class ThreadedEmulator(ThreadedServer):
    """An emulator served from a background thread; use it as a context manager.

    >>> with ThreadedEmulator() as emu:
    ...     emu.base_url  # 'http://127.0.0.1:PORT'
    ...     emu.paywalls["Upgrade to Pro"]  # '3'
    ...     emu.clock.advance(days=1)

    `reset()` returns it to the world loaded last (as `POST /_emulator/reset` does); `restore()` to the
    world file it started with (what the `paywall_emulator` fixture does before each test).

    `world` and `call(fn, *args)` reach into the live in-memory state: unstable internals, whose shape
    follows the emulator's code from release to release. Prefer the control API (`control`).
    """

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._thread = LoopThread("paywall-emulator")

    _what = "emulator"

    # --- lifecycle -----------------------------------------------------------------------

    async def _startup(self) -> None:
        if self.config.public_origin is None and self.port:
            self.config.public_origin = f"http://{self.host}:{self.port}"
        self.app = create_app(self.config)
        self._runner, self.port = await serve(self.app, self.host, self.port)
        if self.config.public_origin is None:
            self.config.public_origin = f"http://{self.host}:{self.port}"

    # --- conveniences --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, the origin of the public API and of `/_emulator`."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """`base_url` + `path` (`emu.url("/api/v1/paywall/3/bootstrap")`)."""
        return self.base_url + path

    @property
    def world(self) -> World:
        """The in-memory world (clock, each product's state, the world document). Unstable: its shape
        follows the emulator's internals; touch it only through `call`."""
        if self.app is None:
            raise RuntimeError("the emulator is not running")
        return self.app[WORLD_KEY]

    @property
    def control(self) -> ControlClient:
        """A client of this emulator's control API."""
        return ControlClient(self.base_url, token=self.config.control_token)

    @property
    def clock(self) -> PaywallClock:
        """This emulator's clock, driven through the control API."""
        return self.control.clock

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the emulator's loop thread and return its result (for state access
        from tests without racing the server). Unstable, like `world`."""
        return self._thread.call(fn, *args)

    def reset(self) -> None:
        """What `POST /_emulator/reset` does: back to the world loaded last, the configured start time
        or wall time, no faults."""
        self.call(self.world.reset)

    def restore(self) -> None:
        """Back to the world file this emulator was started with (a world a test loaded is dropped), then
        reset: what a fresh emulator would be. The pytest fixture does this before each test."""
        self.call(self.world.restore)

    @property
    def api_key(self) -> str:
        """The first API key of the world's first owner (`sk_emulator_acme_…` with the bundled world)."""
        keys = self.api_keys
        if not keys:
            raise LookupError("the world has no owner with an API key")
        return next(iter(keys.values()))

    @property
    def api_keys(self) -> Mapping[str, str]:
        """Owner id → that owner's first API key, in world-file order."""
        return self.call(lambda world: {o.id: o.api_keys[0] for o in monetize_store(world).owners.values()
                                        if o.api_keys}, self.world)

    @property
    def paywalls(self) -> Paywalls:
        """The paywalls of the current world, by name: `emu.paywalls["Upgrade to Pro"] == "3"`."""
        return self.call(paywalls_of, self.world)
