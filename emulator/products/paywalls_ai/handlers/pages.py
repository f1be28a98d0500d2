"""The hosted pages: the fake Stripe Checkout page of a top-up session and the shared wallet's
authorization page. A refused button (409, 402 for the declined test card, 400 for an amount of zero)
answers the page again with the reason; the HTML lives in `pages`."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..calls import body_of, state_of
from ..domain import access, balances
from ..errors import ConflictError, InvalidAmountError
from ..pages import render_authorization_page, render_topup_page

HTML = "text/html"


def _topup_page(call: Call, *, status: int = 200, message: str | None = None) -> Reply:
    state = state_of(call)
    session = balances.require_topup(state, call.path["sessionId"])
    paywall = state.paywalls[session.paywall_id]
    page = render_topup_page(session=session, paywall=paywall,
                             balance=balances.balance_of(state, paywall, session.user_id), message=message)
    return Reply(status=status, body=page, content_type=HTML)


@operation("showTopupPage")
async def show_topup_page(call: Call) -> Reply:
    return _topup_page(call)


@operation("submitTopupPage")
async def submit_topup_page(call: Call) -> Reply:
    form, session_id = body_of(call), call.path["sessionId"]
    try:
        if form["action"] == "pay":
            balances.pay_topup(state_of(call), session_id, form.get("amount") or None, form.get("card") or None,
                               now=call.world.now())
        else:
            balances.cancel_topup(state_of(call), session_id)
    except (ConflictError, InvalidAmountError) as err:  # 409, 402 declined, 400 amount not above zero
        return _topup_page(call, status=err.http_status, message=err.message)
    return _topup_page(call)


def _authorization_page(call: Call, *, status: int = 200, message: str | None = None) -> Reply:
    state = state_of(call)
    request = access.require_request(state, call.path["requestId"])
    page = render_authorization_page(request=request, paywall=state.paywalls[request.paywall_id], message=message)
    return Reply(status=status, body=page, content_type=HTML)


@operation("showAuthorizationPage")
async def show_authorization_page(call: Call) -> Reply:
    return _authorization_page(call)


@operation("submitAuthorizationPage")
async def submit_authorization_page(call: Call) -> Reply:
    try:
        access.decide(state_of(call), call.path["requestId"], approve=body_of(call)["action"] == "approve",
                      now=call.world.now())
    except ConflictError as err:
        return _authorization_page(call, status=err.http_status, message=err.message)
    return _authorization_page(call)
