"""PayKit's control operations (`/_emulator/paykit/...`): the fake Stripe's event log with every
delivery attempt, paying a checkout session and cancelling a subscription without a browser, and
resending an event. Each write delivers the resulting webhooks before it answers."""

from __future__ import annotations

from ....engine.product import Page
from ....engine.routing import Call, Reply, operation
from .. import delivery
from ..domain import billing, outbox
from ..request import body, state
from ..views import render_checkout_session, render_stripe_event, render_stripe_events, render_subscription


@operation("listPayKitEvents")
async def list_paykit_events(call: Call) -> Reply:
    page = Page.asked(call.query)
    return Reply(body=render_stripe_events(page.rows(state(call).events.values()), page))


@operation("completePayKitCheckout")
async def complete_paykit_checkout(call: Call) -> Reply:
    session = billing.pay_checkout(state(call), state(call).ids, call.world.now(), call.path["sessionId"])
    await delivery.flush(call.request.app, state(call))
    return Reply(body=render_checkout_session(session))


@operation("cancelPayKitSubscription")
async def cancel_paykit_subscription(call: Call) -> Reply:
    sub = billing.cancel_subscription(state(call), state(call).ids, call.world.now(), call.path["subscriptionId"],
                                      at_period_end=bool(body(call).get("atPeriodEnd", False)))
    await delivery.flush(call.request.app, state(call))
    return Reply(body=render_subscription(sub))


@operation("redeliverPayKitEvent")
async def redeliver_paykit_event(call: Call) -> Reply:
    event = outbox.redeliver(state(call), call.path["eventId"], call.world.now())
    await delivery.flush(call.request.app, state(call))
    return Reply(body=render_stripe_event(event))
