"""`Idempotency-Key` records of monetize's writes (start-checkout, sign-up, resend): a repeat within 24 h
with the same request answers as the first did, the same key with another request is 409
`idempotency_key_reused`, and records past the window are dropped as new ones come. No aiohttp.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from ....engine.history import drop_leading
from ..errors import ConflictError

IDEMPOTENCY_WINDOW = timedelta(hours=24)


class Kept(Protocol):
    @property
    def fingerprint(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


K = TypeVar("K")
R = TypeVar("R", bound=Kept)


def fingerprint_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def replayed(table: dict[K, R], key: K, now: datetime, fingerprint: str) -> R | None:
    """The record kept for `key` within the window, or None; kept with another fingerprint: 409."""
    record = table.get(key)
    if record is None or now - record.created_at > IDEMPOTENCY_WINDOW:
        return None
    if record.fingerprint != fingerprint:
        raise ConflictError("This Idempotency-Key was already used with a different request body",
                            code="idempotency_key_reused", error="idempotency_key_reused")
    return record


def keep(table: dict[K, R], key: K, record: R, now: datetime) -> None:
    """Keep `record` for `key`; records past the window are dropped (the table is in creation order, so
    only the oldest are ever looked at): memory stays bounded by the keys of the last 24 h."""
    table.pop(key, None)  # a reused, expired key goes to the back
    table[key] = record
    drop_leading(table, lambda old: now - old.created_at > IDEMPOTENCY_WINDOW)
