"""Caps on a product's history tables (`config.Limits`): once a table passes its cap by 1/16 (so trimming
is rare), its oldest rows are dropped and counted by table name, for the state dump to show. No aiohttp.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice, takewhile
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def high_water(cap: int) -> int:
    """The length at which a table capped at `cap` is trimmed back to `cap`."""
    return cap + max(cap // 16, 1)


def trim_list(rows: list[Any], cap: int, evicted: dict[str, int], table: str) -> None:
    """Drop the oldest rows of `rows` (oldest first) down to `cap` once it passed `high_water(cap)`."""
    if len(rows) > high_water(cap):
        count = len(rows) - cap
        del rows[:count]
        evicted[table] = evicted.get(table, 0) + count


def drop_leading(table: dict[K, V], done: Callable[[V], bool]) -> None:
    """Delete the leading entries of `table` (kept in expiry order) for which `done` holds, in one pass:
    taking `next(iter(table))` after each deletion would step over every hole left before it, which
    makes expiring many entries at once quadratic."""
    gone = [key for key, _ in takewhile(lambda item: done(item[1]), table.items())]
    for key in gone:
        del table[key]


def trim_keys(keys: dict[K, None], cap: int, evicted: dict[str, int], table: str) -> list[K]:
    """Like `trim_list` for an insertion-ordered set of keys: drops (in place) and answers the oldest keys
    once there are more than `high_water(cap)`, for the caller to delete their rows."""
    if len(keys) <= high_water(cap):
        return []
    gone = list(islice(keys, len(keys) - cap))
    for key in gone:
        del keys[key]
    evicted[table] = evicted.get(table, 0) + len(gone)
    return gone
