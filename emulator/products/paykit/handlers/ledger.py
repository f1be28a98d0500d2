"""`GET /access`, `POST /meter`, `POST /credits`: the ledger as clients see it."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import ledger
from ..request import body, caller, state
from ..views import render_account, render_meter


@operation("getAccess")
async def get_access(call: Call) -> Reply:
    return Reply(body=render_account(ledger.read(state(call), caller(call), call.query["userId"])))


@operation("meterUsage")
async def meter_usage(call: Call) -> Reply:
    fields = body(call)
    result = ledger.meter(state(call), call.world.now(), caller(call), fields["userId"], fields["event"],
                          cost=fields.get("cost", 1), cost_usd=fields.get("costUsd"))
    return Reply(body=render_meter(result))


@operation("grantCredits")
async def grant_credits(call: Call) -> Reply:
    fields = body(call)
    acct = ledger.grant(state(call), call.world.now(), caller(call), fields["userId"], amount=fields.get("amount"),
                        plan=fields.get("plan"))
    return Reply(body=render_account(acct))
