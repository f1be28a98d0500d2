"""Event loops in daemon threads for the test helpers: `RealTimeEventLoop` (timers on the real monotonic
clock, whatever freezegun patches), `LoopThread` (one such loop run from other threads) and
`ThreadedServer` (an aiohttp server on its own loop thread, the base of `ThreadedEmulator` and
`WebhookReceiver`). Internal to `paywall_emulator.testing`: nothing here is exported.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from ..engine.middleware import server_options

T = TypeVar("T")
START_TIMEOUT = 30.0


def _unpatched_monotonic() -> Callable[[], float]:
    # freezegun replaces `time.monotonic` but not `time.clock_gettime`; time-machine passes every clock
    # but CLOCK_REALTIME through. Windows has no clock_gettime: fall back to what monotonic is right now.
    gettime = getattr(time, "clock_gettime", None)
    clock_id = getattr(time, "CLOCK_MONOTONIC", None)
    if gettime is not None and clock_id is not None:
        return functools.partial(gettime, clock_id)
    return time.monotonic


real_monotonic = _unpatched_monotonic()
"""The monotonic clock as the operating system keeps it (freezegun and time-machine do not move it)."""


class RealTimeEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose timers follow the real monotonic clock, whatever patches time.

    `asyncio` schedules every timer (`sleep`, `wait_for`, aiohttp's keep-alive and timeouts) on
    `loop.time()`, which reads `time.monotonic()`. freezegun replaces that function process-wide: inside
    `freeze_time` an ordinary loop's timers never fire, and even with `real_asyncio=True` there is a
    moment, as the freeze starts and as it ends, when a loop running in *another* thread reads the fake
    value (seconds since 1970) and schedules a timer decades ahead. This loop never reads
    `time.monotonic`, so freezing time in a test never stalls the emulator or the webhook receiver.
    """

    def time(self) -> float:
        return real_monotonic()


class LoopThread:
    """A `RealTimeEventLoop` running forever in a daemon thread, driven from other threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = RealTimeEventLoop()
        self.loop = loop
        self._thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        self._thread.start()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT) -> T:
        """Run `coro` on the loop and wait for its result (its exception is raised here)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = START_TIMEOUT) -> T:
        """Run the plain function `fn(*args)` on the loop and wait for its result (its exception is raised
        here). Cheaper than `run`: one callback, no task and no chained future."""
        loop = self.loop
        if loop is None:
            raise RuntimeError(f"{self.name} is not running")
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def on_loop() -> None:
            if not done.set_running_or_notify_cancel():
                return
            try:
                done.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiting thread, as run_coroutine_threadsafe does
                done.set_exception(exc)

        loop.call_soon_threadsafe(on_loop)
        return done.result(timeout=timeout)

    def stop(self) -> None:
        loop, thread = self.loop, self._thread
        self.loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=START_TIMEOUT)


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (0: a free port); the runner and the port it bound."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, **server_options())
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)


class ThreadedServer:
    """An aiohttp server on its own loop in a daemon thread: start/stop and the context manager, shared
    by `ThreadedEmulator` and `WebhookReceiver` (each builds its app in `_startup`)."""

    _what = "server"
    _thread: LoopThread
    _runner: web.AppRunner | None

    def start(self) -> Self:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        try:
            self._thread.run(self._startup(), timeout=START_TIMEOUT)
        except BaseException as exc:
            self._thread.stop()
            raise RuntimeError(f"the {self._what} failed to start") from exc
        return self

    def stop(self) -> None:
        """Stop serving (background tasks cancelled and awaited) and end the thread. Idempotent."""
        if self._thread.loop is None:
            return
        try:
            self._thread.run(self._shutdown(), timeout=START_TIMEOUT)
        finally:
            self._thread.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _startup(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
