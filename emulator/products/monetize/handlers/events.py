"""Handler of the SDK's analytics batches (fetch JSON or sendBeacon text/plain)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..domain import analytics


@operation("ingestEvents")
async def ingest_events(call: Call) -> Reply:
    analytics.ingest(call.state, call.world.now(), caller(call).require_paywall().id, call.body or {},
                     visitor_id=call.headers.get("X-Visitor-Id"), user_id=call.headers.get("X-User-Id"))
    return Reply(status=204)
