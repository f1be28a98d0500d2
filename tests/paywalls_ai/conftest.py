"""The Paywalls.ai tests' emulator: the session's threaded emulator, restored to the bundled world
before each test (some tests load a world of their own)."""

from __future__ import annotations

import pytest

from paywall_emulator.testing import ThreadedEmulator


@pytest.fixture
def emu(emulator: ThreadedEmulator) -> ThreadedEmulator:
    emulator.restore()
    return emulator
