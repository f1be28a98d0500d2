"""Handler of the SDK's analytics batches (fetch JSON or sendBeacon text/plain)."""

from __future__ import annotations

from ..domain import analytics
from ..routing import Call, Reply, operation


@operation("ingestEvents")
async def ingest_events(call: Call) -> Reply:
    analytics.ingest(call.store, call.world.now(), call.require_paywall().id, call.body or {},
                     visitor_id=call.headers.get("X-Visitor-Id"), user_id=call.headers.get("X-User-Id"))
    return Reply(status=204)
