"""Handlers of the control API's webhook part: endpoints, receiver policies, the delivery log,
redelivery, and the event log (`/_emulator/webhooks/*`, `/_emulator/events`)."""

from __future__ import annotations

from ....engine.product import Page
from ....engine.routing import Call, Reply, operation
from .. import webhooks
from ..views import (
    render_deliveries,
    render_delivery,
    render_event_log,
    render_webhook_endpoint,
    render_webhook_endpoints,
)


@operation("createWebhookEndpoint")
async def create_webhook_endpoint(call: Call) -> Reply:
    body = call.body
    endpoint = webhooks.register_endpoint(call.state, url=body["url"], secret=body.get("secret"),
                                          events=body.get("events"), owner_id=body.get("owner_id"))
    return Reply(status=201, body=render_webhook_endpoint(endpoint))


@operation("listWebhookEndpoints")
async def list_webhook_endpoints(call: Call) -> Reply:
    return Reply(body=render_webhook_endpoints(call.state.webhook_endpoints.values()))


@operation("deleteWebhookEndpoint")
async def delete_webhook_endpoint(call: Call) -> Reply:
    webhooks.remove_endpoint(call.state, call.path["endpointId"], call.world.now())
    return Reply(status=204)


@operation("setWebhookPolicy")
async def set_webhook_policy(call: Call) -> Reply:
    endpoint = webhooks.set_policy(call.state, call.path["endpointId"], call.body, call.world.now())
    return Reply(body=render_webhook_endpoint(endpoint))


@operation("listWebhookDeliveries")
async def list_webhook_deliveries(call: Call) -> Reply:
    q = call.query
    page = Page.asked(q)
    found = page.rows(webhooks.list_deliveries(call.state, type_=q.get("type"), status=q.get("status"),
                                               endpoint_id=q.get("endpoint_id"), event_id=q.get("event_id")))
    return Reply(body=render_deliveries(found, page))


@operation("redeliverWebhook")
async def redeliver_webhook(call: Call) -> Reply:
    delivery = webhooks.redeliver(call.state, call.path["deliveryId"], call.world.now())
    return Reply(status=202, body=render_delivery(delivery))


@operation("listEvents")
async def list_events(call: Call) -> Reply:
    page = Page.asked(call.query)
    found = page.rows(webhooks.list_events(call.state, type_=call.query.get("type")))
    return Reply(body=render_event_log(found, page))
