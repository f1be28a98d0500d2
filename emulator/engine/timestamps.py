"""The one text form of an instant (ISO-8601, milliseconds, `Z`), used by the views (engine and
products) for every wire timestamp. A leaf: imports nothing from the emulator.
"""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
