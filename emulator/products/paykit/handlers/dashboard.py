"""`GET /analytics` and `GET /accounts`: the dashboard's numbers, scoped by `?key=`."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import analytics
from ..request import query_caller, state
from ..views import render_accounts, render_analytics


@operation("getAnalytics")
async def get_analytics(call: Call) -> Reply:
    project = query_caller(call).project
    return Reply(body=render_analytics(analytics.analytics(state(call), call.world.now(), project.id)))


@operation("listAccounts")
async def list_accounts(call: Call) -> Reply:
    accounts = state(call).accounts_of(query_caller(call).project.id)
    return Reply(body=render_accounts(accounts, analytics.stats(accounts)))
