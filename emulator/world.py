"""`World`: one emulator instance's store, clock, config and seed, and the operations on them as
a whole (reset, load a seed, catch up with time). Domain modules get `store` and `now` from it.
No aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .clock import EmulatorClock
from .config import EmulatorConfig
from .domain.scheduler import billing_sources
from .seed import SeedDocument, apply_seed, default_fixtures, read_seed
from .state import Store


class DueSource(Protocol):
    """Something that has work due at instants of emulator time (renewals, period ends, webhook
    retries, ...). `World.catch_up` interleaves all sources in time order."""

    # Background sources (e.g. webhook delivery) are run by their own worker as time passes and only
    # driven inline by explicit clock moves; the per-request catch-up skips them.
    background: bool

    def next_due(self, store: Store) -> datetime | None:
        """The earliest instant at which this source has work, or None."""
        ...

    async def run_due(self, store: Store, at: datetime) -> list[dict[str, Any]]:
        """Perform everything due at or before `at`, as of `at`; describe each transition."""
        ...


@dataclass(slots=True)
class World:
    config: EmulatorConfig
    clock: EmulatorClock
    store: Store
    seed_doc: SeedDocument
    sources: list[DueSource] = field(default_factory=list)
    # Until this instant no foreground source has work, as long as nothing changed the world since it
    # was computed (`changed()`; the number of sources is part of the key): the per-request catch-up
    # then costs one comparison instead of asking every source.
    _quiet: tuple[datetime, int] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, config: EmulatorConfig) -> World:
        clock = EmulatorClock(frozen_at=config.start_time)
        doc = read_seed(config.fixtures or default_fixtures())
        world = cls(config=config, clock=clock, store=Store(), seed_doc=doc, sources=[*billing_sources()])
        world.reset()
        return world

    def now(self) -> datetime:
        return self.clock.now()

    def reset(self) -> None:
        """Restart the clock (configured start time, or wall time) and rebuild every table from the
        loaded seed, so a reset test sees exactly the world and the time a fresh emulator would."""
        self.clock.restart()
        apply_seed(self.store, self.seed_doc, seed=self.config.seed, now=self.clock.now())
        self.changed()

    def load(self, doc: SeedDocument) -> None:
        """Replace the seed document (refused whole if invalid) and reset to it."""
        apply_seed(self.store, doc, seed=self.config.seed, now=self.clock.now())
        self.seed_doc = doc
        self.changed()

    def changed(self) -> None:
        """Something may have scheduled new work (a write request, a reset): the next catch-up asks
        every source again. Reads never schedule work, so only writes call this."""
        self._quiet = None

    async def catch_up(self, until: datetime | None = None, *, background: bool = False) -> list[dict[str, Any]]:
        """Run everything due up to `until` (default: now) in time order, until quiescent.

        Each due item runs as of its own due instant (a renewal is stamped at the period end, not
        at `until`). `background=True` also drives background sources (explicit clock moves).
        """
        target = until or self.clock.now()
        quiet = self._quiet
        if not background and quiet is not None and target < quiet[0] and quiet[1] == len(self.sources):
            return []
        self._quiet = None
        transitions: list[dict[str, Any]] = []
        sources = [s for s in self.sources if background or not s.background]
        for _ in range(100_000):  # a bound, not a budget: quiescence comes long before
            upcoming = [(at, s) for s in sources if (at := s.next_due(self.store)) is not None]
            due = [(at, s) for at, s in upcoming if at <= target]
            if not due:
                if not background:
                    self._quiet = (min((at for at, _ in upcoming), default=datetime.max.replace(tzinfo=UTC)),
                                   len(self.sources))
                return transitions
            at = min(when for when, _ in due)
            for when, source in due:
                if when == at:
                    transitions.extend(await source.run_due(self.store, at))
        raise RuntimeError("catch_up did not reach quiescence (a source keeps scheduling work in the past)")
