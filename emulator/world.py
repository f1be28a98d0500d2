"""`World`: one emulator instance's store, clock, config and seed, and the operations on them as
a whole (reset, load a seed, catch up with time). Domain modules get `store` and `now` from it.
No aiohttp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import EmulatorClock
from .config import EmulatorConfig
from .seed import SeedDocument, apply_seed, default_fixtures, read_seed
from .state import Store

# A catch-up step: given the store and the instant to run up to, perform everything due before it
# (renewals, period ends, ...) and return a description of each transition.
CatchUp = Callable[[Store, datetime], list[dict[str, Any]]]


@dataclass(slots=True)
class World:
    config: EmulatorConfig
    clock: EmulatorClock
    store: Store
    seed_doc: SeedDocument
    catch_ups: list[CatchUp] = field(default_factory=list)

    @classmethod
    def create(cls, config: EmulatorConfig) -> World:
        clock = EmulatorClock(frozen_at=config.start_time)
        doc = read_seed(config.fixtures or default_fixtures())
        world = cls(config=config, clock=clock, store=Store(), seed_doc=doc)
        world.reset()
        return world

    def now(self) -> datetime:
        return self.clock.now()

    def reset(self) -> None:
        """Rebuild every table from the loaded seed, at the current instant."""
        apply_seed(self.store, self.seed_doc, seed=self.config.seed, now=self.clock.now())

    def load(self, doc: SeedDocument) -> None:
        """Replace the seed document (refused whole if invalid) and reset to it."""
        apply_seed(self.store, doc, seed=self.config.seed, now=self.clock.now())
        self.seed_doc = doc

    def catch_up(self, until: datetime | None = None) -> list[dict[str, Any]]:
        """Run everything due up to `until` (default: now), in time order, until quiescent."""
        target = until or self.clock.now()
        transitions: list[dict[str, Any]] = []
        for step in self.catch_ups:
            transitions.extend(step(self.store, target))
        return transitions
