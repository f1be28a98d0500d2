"""Handlers of the control API's billing operations: complete/decline/cancel a checkout session,
renew / fail-next-renewal / expire a subscription, refund a payment (`/_emulator/checkouts`,
`/_emulator/subscriptions`, `/_emulator/payments`). The rules live in `domain.lifecycle`."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import lifecycle, subscriptions
from ..views import render_billing_outcome, render_checkout_session, render_portal_session


def _outcome(result: lifecycle.Outcome) -> Reply:
    return Reply(body=render_billing_outcome(result))


def _body(call: Call) -> dict[str, object]:
    return call.body if isinstance(call.body, dict) else {}


@operation("getCheckoutSession")
async def get_checkout_session(call: Call) -> Reply:
    session = lifecycle.current_checkout(call.state, call.world.now(), call.path["sessionId"])
    return Reply(body=render_checkout_session(session))


@operation("getPortalSession")
async def get_portal_session(call: Call) -> Reply:
    return Reply(body=render_portal_session(lifecycle.require_portal(call.state, call.path["sessionId"])))


@operation("completeCheckout")
async def complete_checkout(call: Call) -> Reply:
    card = _body(call).get("card")
    return _outcome(lifecycle.complete_checkout(call.state, call.world.now(), call.path["sessionId"],
                                                card=str(card) if card is not None else None))


@operation("declineCheckout")
async def decline_checkout(call: Call) -> Reply:
    reason = str(_body(call).get("reason") or "card_declined")
    return _outcome(lifecycle.decline_checkout(call.state, call.world.now(), call.path["sessionId"], reason=reason))


@operation("cancelCheckout")
async def cancel_checkout(call: Call) -> Reply:
    return _outcome(lifecycle.cancel_checkout(call.state, call.world.now(), call.path["sessionId"]))


@operation("renewSubscription")
async def renew_subscription(call: Call) -> Reply:
    return _outcome(subscriptions.renew_now(call.state, call.world.now(), call.path["subscriptionId"]))


@operation("failNextRenewal")
async def fail_next_renewal(call: Call) -> Reply:
    return _outcome(subscriptions.fail_next_renewal(call.state, call.world.now(), call.path["subscriptionId"]))


@operation("expireSubscription")
async def expire_subscription(call: Call) -> Reply:
    return _outcome(subscriptions.expire(call.state, call.world.now(), call.path["subscriptionId"]))


@operation("refundPayment")
async def refund_payment(call: Call) -> Reply:
    body = _body(call)
    amount, reason = body.get("amount"), body.get("reason")
    return _outcome(subscriptions.refund(call.state, call.world.now(), call.path["paymentId"],
                                     amount=int(str(amount)) if amount is not None else None,
                                     reason=str(reason) if reason is not None else None))
