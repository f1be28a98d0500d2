"""Handler of the metered AI gateway: reserve the charge (domain), then forward and stream (transport).
One function for every method (GET, POST, PUT, PATCH, DELETE) of both paths: the method only travels on."""

from __future__ import annotations

from aiohttp import web

from ....engine.routing import Call, operation
from ..auth import caller
from ..domain import gateway
from ..upstream import UPSTREAMS_KEY, forward


@operation("callGatewayGet", "callGatewayPost", "callGatewayPut", "callGatewayPatch", "callGatewayDelete",
           "callGatewayPathGet", "callGatewayPathPost", "callGatewayPathPut", "callGatewayPathPatch",
           "callGatewayPathDelete")
async def call_gateway(call: Call) -> web.StreamResponse:
    store, now = call.state, call.world.now()
    charge = gateway.reserve(store, now, gateway.GatewayRequest(
        provider_id=call.path["providerId"], paywall_query=call.query.get("paywall_id"),
        paywall_header=call.headers.get("X-Paywall-Id"), bearer_user_id=caller(call).principal.user_id,
        x_user_id=call.headers.get("X-User-ID")))
    return await forward(call.request, call.world, call.request.app[UPSTREAMS_KEY], charge)
