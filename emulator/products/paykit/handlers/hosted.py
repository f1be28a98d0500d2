"""The hosted fake Stripe pages (`/_emulator/paykit/checkout/{sessionId}`, `/_emulator/paykit/portal/
{portalId}`): show a page, or run its button through `domain.billing`, deliver the resulting webhook, and
redirect like Stripe would. A refused button (409) answers the page again with the reason."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from .. import delivery
from ..domain import billing
from ..errors import PayKitError
from ..pages import render_checkout_page, render_portal_page
from ..request import body, state

HTML = "text/html"


def _see_other(url: str) -> Reply:
    return Reply(status=303, body="", content_type=HTML, headers={"Location": url})


def _checkout_page(call: Call, *, status: int = 200, message: str | None = None) -> Reply:
    session = billing.current_checkout(state(call), call.world.now(), call.path["sessionId"])
    page = render_checkout_page(session=session, project=state(call).projects[session.project_id], message=message)
    return Reply(status=status, body=page, content_type=HTML)


@operation("showPayKitCheckout")
async def show_paykit_checkout(call: Call) -> Reply:
    return _checkout_page(call)


@operation("submitPayKitCheckout")
async def submit_paykit_checkout(call: Call) -> Reply:
    session = billing.current_checkout(state(call), call.world.now(), call.path["sessionId"])
    if body(call).get("action") != "pay":
        return _see_other(session.cancel_url)  # Stripe leaves the session open; the buyer just goes back
    try:
        billing.pay_checkout(state(call), state(call).ids, call.world.now(), session.id)
    except PayKitError as err:
        return _checkout_page(call, status=err.http_status, message=err.message)
    await delivery.flush(call.request.app, state(call))
    return _see_other(session.success_url)


def _portal_page(call: Call, *, status: int = 200, message: str | None = None) -> Reply:
    portal = billing.require_portal(state(call), call.path["portalId"])
    page = render_portal_page(portal=portal, project=state(call).projects[portal.project_id], message=message,
                              subscriptions=billing.subscriptions_of(state(call), portal.customer_id))
    return Reply(status=status, body=page, content_type=HTML)


@operation("showPayKitPortal")
async def show_paykit_portal(call: Call) -> Reply:
    return _portal_page(call)


@operation("submitPayKitPortal")
async def submit_paykit_portal(call: Call) -> Reply:
    portal, form = billing.require_portal(state(call), call.path["portalId"]), body(call)
    try:
        billing.cancel_subscription(state(call), state(call).ids, call.world.now(), str(form.get("subscription")),
                                    at_period_end=form.get("action") == "cancel_at_period_end",
                                    customer_id=portal.customer_id)
    except PayKitError as err:
        return _portal_page(call, status=err.http_status, message=err.message)
    await delivery.flush(call.request.app, state(call))
    return _see_other(f"{call.origin}/_emulator/paykit/portal/{portal.id}")
