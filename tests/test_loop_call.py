"""`ThreadedEmulator.call`: a plain function runs on the emulator's loop thread (with that loop running),
its result or its exception comes back to the calling thread, and a stopped emulator refuses calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from paywall_emulator.testing import ThreadedEmulator


def test_call_runs_on_the_loop_thread_and_hands_back_result_and_exception() -> None:
    with ThreadedEmulator() as emu:
        name, running = emu.call(lambda: (threading.current_thread().name, asyncio.get_running_loop()))
        assert name == "paywall-emulator" and running is emu._thread.loop
        assert emu.call(lambda a, b: a + b, 2, 3) == 5

        def fail() -> None:
            raise KeyError("nope")

        with pytest.raises(KeyError, match="nope"):
            emu.call(fail)
        assert emu.call(lambda: 1) == 1  # the loop goes on after a failed call
    with pytest.raises(RuntimeError, match="not running"):
        emu.call(lambda: 1)
