"""`app.create_app`: building an app pauses the cyclic collector (no collection runs while it is built) and
leaves it as it found it, on success and on a refused world alike (it is process-wide state a test session
relies on)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from paywall_emulator.app import create_app
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.keys import WORLD_KEY
from paywall_emulator.engine.product import WorldError


@pytest.fixture
def collector_restored() -> Iterator[None]:
    before = gc.isenabled()
    yield
    gc.enable() if before else gc.disable()


@pytest.mark.usefixtures("collector_restored")
@pytest.mark.parametrize("enabled", [True, False])
def test_create_app_leaves_the_collector_as_it_found_it(enabled: bool, tmp_path: Path) -> None:
    gc.enable() if enabled else gc.disable()
    seen: list[bool] = []
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        collections.extend([info["generation"]] if phase == "start" else [])

    gc.callbacks.append(count)
    try:
        app = create_app(EmulatorConfig(products=("monetize",)))
    finally:
        gc.callbacks.remove(count)
    seen.append(gc.isenabled())
    assert collections == []  # ~20,000 objects made, and not one collection while they were
    assert app[WORLD_KEY].states.keys() == {"monetize"}
    broken = tmp_path / "world.yaml"
    broken.write_text("monetize:\n  owners: 3\n", encoding="utf-8")
    with pytest.raises(WorldError):
        create_app(EmulatorConfig(world=broken))
    seen.append(gc.isenabled())
    assert seen == [enabled, enabled]
    assert gc.get_freeze_count() == 0  # an in-process app freezes nothing: a session builds many and drops them
