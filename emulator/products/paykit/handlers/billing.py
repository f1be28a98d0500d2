"""`POST /checkout`, `POST /portal` (URLs of the hosted fake Stripe pages) and `POST /webhook` (Stripe's
endpoint: the raw body is verified before anything reads it)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import billing, webhook
from ..request import body, caller, raw_body, state
from ..views import render_url


@operation("createCheckout")
async def create_checkout(call: Call) -> Reply:
    fields = body(call)
    session = billing.start_checkout(state(call), state(call).ids, call.world.now(), caller(call), fields["userId"],
                                     fields.get("kind", "credits"), origin=call.origin)
    return Reply(body=render_url(f"{call.origin}/_emulator/paykit/checkout/{session.id}"))


@operation("createPortal")
async def create_portal(call: Call) -> Reply:
    portal = billing.open_portal(state(call), state(call).ids, call.world.now(), caller(call), body(call)["userId"],
                                 origin=call.origin)
    return Reply(body=render_url(f"{call.origin}/_emulator/paykit/portal/{portal.id}"))


@operation("receiveStripeWebhook")
async def receive_stripe_webhook(call: Call) -> Reply:
    payload = await raw_body(call)
    webhook.receive(state(call), call.world.now(), payload, call.headers.get("Stripe-Signature"))
    return Reply(body={"received": True})
