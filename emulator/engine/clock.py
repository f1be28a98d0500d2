"""The emulator's one source of time.

Owns `EmulatorClock`. This is the only module allowed to read wall time (ruff TID251 enforces it);
everything else asks the world's clock. Imports no aiohttp.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class ClockBackwardsError(ValueError):
    """Raised when asked to move the emulator's clock before a time it already reported."""


class EmulatorClock:
    """A clock that follows wall time plus an offset, or stays frozen at a set instant.

    Following wall time goes through `datetime.now(UTC)`, so freezegun or time-machine in a test
    move this clock too. `advance`/`set` never go backwards: the high-water mark of every instant
    handed out is kept, and an earlier target is refused.
    """

    def __init__(self, *, frozen_at: datetime | None = None) -> None:
        self._start = _utc(frozen_at) if frozen_at is not None else None
        self._offset = timedelta(0)
        self._frozen: datetime | None = self._start
        self._high_water: datetime | None = None

    def restart(self) -> None:
        """Back to how the clock was created (a reset world starts a new timeline)."""
        self._offset = timedelta(0)
        self._frozen = self._start
        self._high_water = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def now(self) -> datetime:
        current = self._frozen
        if current is None:
            current = datetime.now(UTC)
            if self._offset:
                current += self._offset
        if self._high_water is not None and current < self._high_water:
            # Wall time (or a test's freezegun) went backwards: time never runs backwards in the
            # emulator, it waits for the wall to catch up.
            return self._high_water
        self._high_water = current
        return current

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ClockBackwardsError("the clock can only move forwards")
        start = self.now()
        if self._frozen is not None:
            self._frozen = start + delta
        else:
            self._offset += delta
        return self.now()

    def set(self, when: datetime, *, freeze: bool | None = None) -> datetime:
        target = _utc(when)
        if target < self.now():
            raise ClockBackwardsError(f"cannot move the clock back to {target.isoformat()}")
        keep_frozen = self.frozen if freeze is None else freeze
        if keep_frozen:
            self._frozen = target
        else:
            self._frozen = None
            self._offset = target - datetime.now(UTC)
        return self.now()

    def snapshot(self) -> dict[str, str | float | None]:
        """What `resume` needs to go on after a restart: the emulator's offset from wall time (time kept
        passing while it was down, so due work runs then) or the instant it is frozen at."""
        return {"offset_seconds": self._offset.total_seconds(),
                "frozen_at": self._frozen.isoformat() if self._frozen is not None else None}

    def resume(self, saved: dict[str, str | float | None]) -> None:
        frozen = saved.get("frozen_at")
        self._frozen = datetime.fromisoformat(str(frozen)) if frozen else None
        self._offset = timedelta(seconds=float(saved.get("offset_seconds") or 0))
        self._high_water = None

    def unfreeze(self) -> None:
        if self._frozen is not None:
            self._offset = self._frozen - datetime.now(UTC)
            self._frozen = None


def monotonic() -> float:
    """Seconds from an arbitrary origin, for measuring durations (never for domain time)."""
    return time.monotonic()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
