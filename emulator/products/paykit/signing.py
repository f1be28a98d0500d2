"""Stripe's webhook signature scheme, both ways: `Stripe-Signature: t=<unix>,v1=<hex>` where v1 is
HMAC-SHA256 of `"{t}.{payload}"` keyed with the endpoint secret, with a timestamp no older than
a tolerance on the emulator clock. Pure functions; no aiohttp, no clock reads (callers pass `now`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

DEFAULT_TOLERANCE = 300  # seconds, as in Stripe's libraries


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header(payload: bytes, secret: str, timestamp: int) -> str:
    return f"t={timestamp},v1={signature(payload, secret, timestamp)}"


def verify(payload: bytes, header_value: str | None, secret: str, now: datetime, *,
           tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """True when one `v1` entry signs the payload with `secret` and `t` is at most `tolerance` seconds old.

    The header is read as Stripe's libraries read it: items split at commas and not trimmed (`t=1, v1=…`
    names no `v1`), an item's value ends at its next `=`, and a timestamp from the future is not refused
    (only a replayed old one is)."""
    if not header_value:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header_value.split(","):
        name, *values = item.split("=")
        if not values:
            continue
        value = values[0]
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    expected = signature(payload, secret, timestamp)
    # as bytes: a header may carry any byte (decoded with surrogate escapes), and compare_digest refuses a
    # str with non-ASCII characters
    if not any(hmac.compare_digest(expected.encode(), c.encode("utf-8", "surrogateescape")) for c in candidates):
        return False
    return now.timestamp() - timestamp <= tolerance
