"""Fixtures of the PayKit tests: `paykit_world` loads a PayKit world section for one test and puts the
bundled world back afterwards (the shared emulator's per-test reset only returns to the world loaded
last)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from paywall_emulator.testing import ThreadedEmulator


@pytest.fixture
def paykit_world(emu: ThreadedEmulator) -> Iterator[Callable[[dict[str, Any]], None]]:
    def load(section: dict[str, Any]) -> None:
        emu.control.load_world({"paykit": section})

    try:
        yield load
    finally:
        emu.restore()
