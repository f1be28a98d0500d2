"""Moving the emulator clock on request (the control API's set and advance): how far one move may
reach, that time never goes back, running everything that falls due on the way in time order, and a
frozen clock against a running one. Takes a `Timeline` (what `World` offers) rather than importing
`world`. No aiohttp.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from .clock import ClockBackwardsError, EmulatorClock
from .errors import BadRequestError, ConflictError
from .product import EventRef, Transition
from .structs import struct

MAX_JUMP = timedelta(days=36525)  # one clock move at most (advanceClock's schema says the same)
# Far enough from datetime's year 9999 that every due-time sum (a year's period, 24 h expiries) still fits.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Timeline(Protocol):
    """The clock, the event logs and the catch-up that runs what falls due (`World` is one)."""

    clock: EmulatorClock

    def now(self) -> datetime: ...

    def event_marks(self) -> dict[str, int]: ...

    def events_since(self, marks: dict[str, int]) -> list[EventRef]: ...

    async def catch_up(self, until: datetime | None = None, *,
                       background: bool = False) -> list[Transition]: ...


@struct(kw_only=True)
class ClockMove:
    """What an advance did: where the clock was and is, what ran on the way, which events it emitted."""

    previous: datetime
    now: datetime
    transitions: list[Transition]
    events: list[EventRef]


def parse_instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestError(f"now must be an ISO-8601 date-time, got {value!r}", code="invalid_request") from exc


def within_reach(now: datetime, target: datetime) -> datetime:
    """`target`, unless it lies more than `MAX_JUMP` ahead of `now` or at `LATEST` or later (400)."""
    if target > now + MAX_JUMP or target >= LATEST:
        raise BadRequestError(f"the clock moves at most {MAX_JUMP.days} days (100 years) at a time and stays "
                              f"before {LATEST.year}", code="invalid_request")
    return target


async def set_clock(timeline: Timeline, when: str, *, frozen: bool) -> None:
    """Move to the instant `when` (never back: 409 `clock_backwards`), frozen there or running from there."""
    target = within_reach(timeline.now(), parse_instant(when))
    try:
        if target < timeline.now():
            raise ClockBackwardsError(f"cannot move the clock back to {target.isoformat()}")
        await timeline.catch_up(target, background=True)
        timeline.clock.set(target, freeze=frozen)
    except ClockBackwardsError as exc:
        raise ConflictError(str(exc), code="clock_backwards", error="clock_backwards") from exc


async def advance_clock(timeline: Timeline, *, seconds: float | None, days: float | None) -> ClockMove:
    """Move forward by `seconds` plus `days` (at least one given), running what falls due on the way."""
    total = float(seconds or 0) + 86400 * float(days or 0)
    if seconds is None and days is None:
        raise BadRequestError("give seconds or days to advance by", code="invalid_request")
    previous = timeline.now()
    target = within_reach(previous, previous + timedelta(seconds=total))
    marks = timeline.event_marks()
    transitions = await timeline.catch_up(target, background=True)
    clock = timeline.clock
    if clock.frozen:
        clock.set(target)
    else:  # a running clock keeps moving between any read and a `set`: shift it by what is left instead
        clock.advance(max(target - clock.now(), timedelta(0)))
    return ClockMove(previous=previous, now=timeline.now(), transitions=transitions,
                     events=timeline.events_since(marks))
