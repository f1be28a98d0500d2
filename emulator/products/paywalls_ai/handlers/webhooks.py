"""Webhook subscriptions and delivery logs of the calling paywall."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..calls import body_of, paywall_of, state_of
from ..domain import webhooks
from ..domain.webhooks import NewSubscription
from ..views import render_logs, render_subscription, render_subscriptions


@operation("createWebhookSubscription")
async def create_webhook_subscription(call: Call) -> Reply:
    body = body_of(call)
    spec = NewSubscription(url=body["url"], events=body["events"], description=body.get("description"),
                           custom_headers=body.get("customHeaders"), secret=body.get("secret"))
    made = webhooks.create_subscription(state_of(call), paywall_of(call), spec, now=call.world.now(),
                                        secrets=state_of(call).ids)
    return Reply(status=201, body={"subscription": render_subscription(made, with_secret=True)})


@operation("listWebhookSubscriptions")
async def list_webhook_subscriptions(call: Call) -> Reply:
    found = webhooks.list_subscriptions(state_of(call), paywall_of(call), call.query.get("status"))
    return Reply(body=render_subscriptions(found))


@operation("getWebhookSubscription")
async def get_webhook_subscription(call: Call) -> Reply:
    found = webhooks.require_subscription(state_of(call), paywall_of(call), call.path["subscriptionId"])
    return Reply(body={"subscription": render_subscription(found)})


@operation("deactivateWebhookSubscription")
async def deactivate_webhook_subscription(call: Call) -> Reply:
    found = webhooks.deactivate(state_of(call), paywall_of(call), call.path["subscriptionId"], call.world.now())
    return Reply(body={"subscription": render_subscription(found)})


@operation("listWebhookLogs")
async def list_webhook_logs(call: Call) -> Reply:
    query, state = call.query, state_of(call)
    found = webhooks.logs(state, paywall_of(call), subscription_id=query.get("subscriptionId"),
                          status=query.get("status"), event_type=query.get("eventType"), limit=query.get("limit", 20))
    return Reply(body=render_logs(found, state.events_by_id))
