"""The SDK's analytics ingest: a batch of at most 100 events per request (413 above). No aiohttp."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import PayloadTooLargeError
from ..models import AnalyticsEvent
from ..state import Store

MAX_EVENTS_PER_BATCH = 100


def ingest(store: Store, now: datetime, paywall_id: str, batch: dict[str, Any], *,
           visitor_id: str | None, user_id: str | None) -> int:
    events = batch.get("events") or []
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise PayloadTooLargeError(f"at most {MAX_EVENTS_PER_BATCH} events per batch, got {len(events)}",
                                   code="too_many_events", error="too_many_events")
    visitor = visitor_id or batch.get("visitor_id")
    user = user_id or batch.get("user_id")
    for raw in events:
        store.record_analytics(AnalyticsEvent(
            paywall_id=paywall_id, type=str(raw.get("type")), ts=raw.get("ts"), props=raw.get("props"),
            visitor_id=visitor, user_id=user, received_at=now))
    return len(events)
