"""Handlers of the paywall domain's default return pages (`/paywall/{id}/checkout/success|error`,
`/paywall/{id}/customer-portal/return`, `/freemius/return`): where buyers land when the merchant gave
no URL of its own. Each shows a status and a way back; the HTML lives in `pages`."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..pages import render_checkout_return_page, render_freemius_return_page, render_portal_return_page

HTML = "text/html"


def _checkout_return(call: Call, outcome: str) -> Reply:
    paywall = caller(call).require_paywall()
    page = render_checkout_return_page(paywall=paywall, outcome=outcome,
                                       back_url=paywall.checkout_shop_url or paywall.success_redirect_url)
    return Reply(body=page, content_type=HTML)


@operation("showCheckoutSuccessPage")
async def show_checkout_success_page(call: Call) -> Reply:
    return _checkout_return(call, "success")


@operation("showCheckoutErrorPage")
async def show_checkout_error_page(call: Call) -> Reply:
    return _checkout_return(call, "error")


@operation("showPortalReturnPage")
async def show_portal_return_page(call: Call) -> Reply:
    paywall = caller(call).require_paywall()
    back = paywall.checkout_shop_url or paywall.success_redirect_url
    page = render_portal_return_page(paywall=paywall, back_url=back)
    return Reply(body=page, content_type=HTML)


@operation("showFreemiusReturnPage")
async def show_freemius_return_page(call: Call) -> Reply:
    return Reply(body=render_freemius_return_page(), content_type=HTML)
