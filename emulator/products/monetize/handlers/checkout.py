"""Handlers of checkout and the customer portal."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..domain import checkout
from ..views import render_checkout, render_portal


@operation("startCheckout")
async def start_checkout(call: Call) -> Reply:
    paywall, body = caller(call).require_paywall(), call.body
    request = checkout.CheckoutRequest(
        price_id=body.get("priceId"), success_url=body.get("successUrl"), error_url=body.get("errorUrl"),
        shop_url=body.get("shopUrl"), trial_days=body.get("trial_days"),
        ignore_active_purchase=bool(body.get("ignoreActivePurchase")), user_meta=body.get("userMeta"),
        offer_id=body.get("offerId"),
        attribution={k: body[k] for k in ("visitorId", "experimentId", "variantKey", "localCurrency") if k in body},
    )
    session = checkout.start(
        call.state, call.world.now(), paywall, request, email=body.get("email"), bearer_user=caller(call).bearer_user,
        origin=call.origin, hosted=call.world.config.checkout_urls == "hosted",
        idempotency_key=call.headers.get("Idempotency-Key"),
        fingerprint=checkout.request_fingerprint(paywall.id, caller(call).principal, body),
    )
    return Reply(body=render_checkout(session))


@operation("getCustomerPortal")
async def get_customer_portal(call: Call) -> Reply:
    paywall, body = caller(call).require_paywall(), call.body or {}
    session = checkout.open_portal(
        call.state, call.world.now(), paywall, email=body.get("email"), bearer_user=caller(call).bearer_user,
        user_meta=body.get("userMeta"), origin=call.origin,
        hosted=call.world.config.checkout_urls == "hosted", return_url=body.get("returnUrl"))
    return Reply(body=render_portal(session))
