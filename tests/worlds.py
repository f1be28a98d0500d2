"""World documents for the emulator's own tests: the bundled world file, its monetize section, and a
monetize `Store` built from a section the way a reset builds it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paywall_emulator.engine.ids import IdFactory
from paywall_emulator.engine.product import WorldLoad
from paywall_emulator.engine.worldfile import default_world, read_world
from paywall_emulator.products.monetize.state import Store
from paywall_emulator.products.monetize.worldfile import load_section


def bundled() -> dict[str, Any]:
    """The bundled world file (fixtures/default.yaml), a fresh copy each call."""
    return copy.deepcopy(read_world(default_world()))


def monetize_section() -> dict[str, Any]:
    """The bundled world's monetize section, a fresh copy each call."""
    section: dict[str, Any] = bundled()["monetize"]
    return section


def monetize_store(section: Mapping[str, Any] | None = None, *, now: datetime, id_seed: int = 0) -> Store:
    """A store holding `section` (default: the bundled one) as of `now`, as a reset builds it."""
    return load_section(monetize_section() if section is None else section,
                        WorldLoad(now=now, ids=IdFactory(id_seed), id_seed=id_seed))
