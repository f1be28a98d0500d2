"""Handlers of the hosted fake pages (`/_emulator/checkout/{sessionId}`, `/_emulator/portal/{sessionId}`):
show a page, or run its button through `domain.lifecycle` and redirect like the acquirer would. A refusal
of the button (409) answers the page again with the reason; the HTML itself lives in `pages`."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..acquirers import acquirer_for
from ..domain import lifecycle, subscriptions
from ..errors import ConflictError
from ..pages import PortalRow, render_checkout_page, render_portal_page, render_portal_used_page

HTML = "text/html"
PORTAL_COOKIE = "pw_portal"


def _form(call: Call) -> dict[str, str]:
    body = call.body if isinstance(call.body, dict) else {}
    return {str(k): str(v) for k, v in body.items()}


def _see_other(url: str) -> Reply:
    return Reply(status=303, body="", content_type=HTML, headers={"Location": url})


def _checkout_page(call: Call, session_id: str, *, status: int = 200, message: str | None = None) -> Reply:
    store = call.state
    session = lifecycle.current_checkout(store, call.world.now(), session_id)
    paywall = store.paywalls[session.paywall_id]
    page = render_checkout_page(session=session, paywall=paywall, price=store.prices[session.price_id],
                                user=store.users[session.user_id], acquirer=acquirer_for(session.acquirer),
                                message=message, fixed_return=f"{call.origin}/freemius/return")
    return Reply(status=status, body=page, content_type=HTML)


@operation("showHostedCheckout")
async def show_hosted_checkout(call: Call) -> Reply:
    return _checkout_page(call, call.path["sessionId"])


@operation("submitHostedCheckout")
async def submit_hosted_checkout(call: Call) -> Reply:
    session_id, form, now = call.path["sessionId"], _form(call), call.world.now()
    try:
        if form["action"] == "pay":
            outcome = lifecycle.complete_checkout(call.state, now, session_id, card=form.get("card") or None)
        elif form["action"] == "decline":
            outcome = lifecycle.decline_checkout(call.state, now, session_id)
        else:
            outcome = lifecycle.cancel_checkout(call.state, now, session_id)
    except ConflictError as err:
        return _checkout_page(call, session_id, status=409, message=err.message)
    if outcome.redirect_url is None:  # Freemius: no way back, the page says how it went
        return _checkout_page(call, session_id)
    return _see_other(outcome.redirect_url)


def _portal_page(call: Call, session_id: str, *, status: int = 200, message: str | None = None) -> Reply:
    store = call.state
    portal = lifecycle.require_portal(store, session_id)
    paywall = store.paywalls[portal.paywall_id]
    rows = [PortalRow(subscription=sub, price=store.prices.get(sub.price_id),
                      cancellable=lifecycle.can_cancel(sub))
            for sub in store.subscriptions_of(portal.user_id, portal.paywall_id)]
    page = render_portal_page(portal=portal, paywall=paywall, user=store.users[portal.user_id], rows=rows,
                              acquirer=acquirer_for(paywall.acquirer), message=message)
    return Reply(status=status, body=page, content_type=HTML)


def _visit(call: Call, *, open_link: bool = True) -> tuple[lifecycle.PortalVisit, Reply | None]:
    """Open the one-time link for this browser; the `used` page (410) for any other browser."""
    visit = lifecycle.visit_portal(call.state, call.world.now(), call.path["sessionId"],
                                   call.request.cookies.get(PORTAL_COOKIE), open_link=open_link)
    if not visit.used:
        return visit, None
    paywall = call.state.paywalls[visit.portal.paywall_id]
    page = render_portal_used_page(portal=visit.portal, paywall=paywall, acquirer=acquirer_for(paywall.acquirer))
    return visit, Reply(status=410, body=page, content_type=HTML)


def _keep_key(reply: Reply, visit: lifecycle.PortalVisit) -> Reply:
    if visit.new_key is not None:  # scoped to this link's path: the browser's proof that it opened it
        reply.headers["Set-Cookie"] = (f"{PORTAL_COOKIE}={visit.new_key}; Path=/_emulator/portal/{visit.portal.id}; "
                                       "HttpOnly; SameSite=Lax")
    return reply


@operation("showHostedPortal")
async def show_hosted_portal(call: Call) -> Reply:
    visit, used = _visit(call)
    return used or _keep_key(_portal_page(call, visit.portal.id), visit)


@operation("submitHostedPortal")
async def submit_hosted_portal(call: Call) -> Reply:
    (_, used), form, session_id = _visit(call, open_link=False), _form(call), call.path["sessionId"]
    if used is not None:
        return used
    try:  # a refused input (404) leaves the link unused; a page shown (409) or a redirect uses it
        subscriptions.cancel_in_portal(call.state, call.world.now(), session_id, form["subscription_id"])
    except ConflictError as err:
        return _keep_key(_portal_page(call, session_id, status=409, message=err.message), _visit(call)[0])
    return _keep_key(_see_other(f"{call.origin}/_emulator/portal/{session_id}"), _visit(call)[0])
