"""The signature scheme of Paywalls.ai webhook deliveries: `X-Paywalls-Signature` is the lower-case hex
HMAC-SHA256 of the raw body with the subscription's secret, next to `X-Paywalls-Event: <type>@1.0`
and `X-Paywalls-Timestamp` (ISO 8601), plus the subscription's custom headers. Pure.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

USER_AGENT = "Paywalls-Webhooks/1.0 (paywall-emulator)"
VERSION = "1.0"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute over the raw bytes and compare in constant time."""
    return hmac.compare_digest(sign(secret, body).encode(), signature.encode("utf-8", "surrogateescape"))


def delivery_headers(*, event_type: str, secret: str, body: bytes, at: datetime,
                     custom: Mapping[str, str]) -> dict[str, str]:
    headers = dict(custom)
    headers.update({
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        "X-Paywalls-Event": f"{event_type}@{VERSION}", "X-Paywalls-Signature": sign(secret, body),
        "X-Paywalls-Timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z")})
    return headers
