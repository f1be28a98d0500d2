"""Calendar arithmetic for billing periods and day boundaries. Pure; no aiohttp."""

from __future__ import annotations

import calendar
import functools
from datetime import UTC, date, datetime, timedelta

# How many months a price interval is worth, for the monthly token grant (tokenization docs).
MONTHS_PER_INTERVAL: dict[str, float] = {"day": 1 / 30, "week": 0.25, "month": 1.0, "year": 12.0}


def add_interval(start: datetime, interval: str | None, count: int | None = 1) -> datetime:
    """The end of a billing period that starts at `start` (month ends clamp, like Stripe)."""
    n = count or 1
    if interval == "day":
        return start + timedelta(days=n)
    if interval == "week":
        return start + timedelta(weeks=n)
    if interval in ("month", "year"):
        months = n if interval == "month" else 12 * n
        year, month0 = divmod(start.month - 1 + months, 12)
        year += start.year
        month = month0 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)
    raise ValueError(f"interval {interval!r} has no period")


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar date of `instant` in `timezone` (the daily-trial day)."""
    if instant.tzinfo is UTC and timezone == "UTC":  # the default zone, and the clock's: nothing to convert
        return instant.date()
    return _zoned_date(instant, timezone)


@functools.lru_cache(maxsize=256)
def _zoned_date(instant: datetime, timezone: str) -> date:
    """`local_date` through the zone's rules, memoised (a pure function): one balances request asks for
    the same instant several times."""
    from zoneinfo import ZoneInfo  # here: a world in UTC alone never loads the zone database's reader

    return instant.astimezone(ZoneInfo(timezone)).date()
