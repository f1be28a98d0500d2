"""The paywall domain's default return pages are served: `/paywall/<id>/checkout/success|error`,
`/paywall/<id>/customer-portal/return` and `/freemius/return`. A real headless Chromium pays, declines
and cancels hosted checkouts that name no return URL and lands on them (status read from the fragment
markers, a link back or a close hint, the opener told), follows the portal's default return, and
Freemius's fixed landing; plain HTTP checks every page and the 404 of an unknown paywall."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from paywall_emulator.testing import ControlClient, ThreadedEmulator

from .browser import browser as browser  # the fixtures
from .browser import page as page
from .conftest import ACME_KEY, FREEMIUS_PW, PADDLE_PW, STRIPE_PW, TOKEN_PW, Api, error_of


def start(api: Api, paywall: str, price: str, email: str, **extra: Any) -> str:
    resp = api.post(f"/api/v1/paywall/{paywall}/start-checkout", key=ACME_KEY,
                    json={"email": email, "priceId": price, **extra})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["checkoutUrl"])


@pytest.mark.parametrize(("button", "card", "path", "status", "text"), [
    ("pay", None, "success", "paid", "Payment done"),
    ("pay", "4000 0000 0000 0002", "error", "failed", "Payment failed"),
    ("decline", None, "error", "failed", "Payment failed"),
    ("cancel", None, "error", "cancelled", "Checkout cancelled"),
])
def test_a_checkout_without_return_urls_lands_on_the_default_page(
        page: Page, api: Api, emu: ThreadedEmulator, control: ControlClient, button: str, card: str | None,
        path: str, status: str, text: str) -> None:
    url = start(api, PADDLE_PW, "201", f"{button}-{status}@example.com")
    session_id = control.checkout_session_id(url)
    page.goto(url)
    if card:
        page.get_by_test_id("card").fill(card)
    page.get_by_test_id(button).click()
    page.wait_for_url(f"{emu.base_url}/paywall/{PADDLE_PW}/checkout/{path}#*")
    heading = page.get_by_test_id("return-status")
    expect(heading).to_have_text(text)
    assert heading.get_attribute("data-status") == status
    assert page.get_by_test_id("price-id").inner_text() == "201"
    assert page.get_by_test_id("session-id").inner_text() == session_id
    assert page.get_by_test_id("merchant").inner_text() == "Acme Studio"
    expect(page.get_by_test_id("close-hint")).to_be_visible()  # paywall 7 has no shop URL to go back to


def test_the_page_tells_its_opener_like_the_real_landing_page(page: Page, api: Api, emu: ThreadedEmulator,
                                                               control: ControlClient) -> None:
    url = start(api, PADDLE_PW, "201", "opener@example.com")
    session_id = control.checkout_session_id(url)
    redirect = control.complete_checkout(url)["redirect_url"]
    assert redirect.startswith(f"{emu.base_url}/paywall/{PADDLE_PW}/checkout/success#")
    page.goto(f"{emu.base_url}/freemius/return")  # any page of the emulator's origin opens the tab
    page.evaluate("window.__got = null; window.addEventListener('message', (e) => { window.__got = e.data; })")
    with page.expect_popup() as popup_info:
        page.evaluate("(u) => { window.open(u); }", redirect)
    expect(popup_info.value.get_by_test_id("return-status")).to_have_text("Payment done")
    page.wait_for_function("window.__got !== null")
    assert page.evaluate("window.__got") == {"type": "paywall_purchase", "status": "paid", "priceId": "201",
                                             "sessionId": session_id}


def test_the_portal_returns_to_its_default_page(page: Page, api: Api, emu: ThreadedEmulator) -> None:
    resp = api.post(f"/api/v1/paywall/{PADDLE_PW}/get-customer-portal", key=ACME_KEY,
                    json={"email": "carol@example.com"})
    assert resp.status_code == 200, resp.text
    page.goto(resp.json()["url"])
    page.get_by_test_id("return-link").click()
    page.wait_for_url(f"{emu.base_url}/paywall/{PADDLE_PW}/customer-portal/return")
    expect(page.get_by_test_id("return-status")).to_have_text("Back from the customer portal")
    expect(page.get_by_test_id("close-hint")).to_be_visible()


def test_freemius_links_to_its_fixed_landing(page: Page, api: Api, emu: ThreadedEmulator) -> None:
    page.goto(start(api, FREEMIUS_PW, "301", "fm-buyer@example.com"))
    page.get_by_test_id("pay").click()
    expect(page.get_by_test_id("outcome")).to_have_attribute("data-status", "paid")
    page.get_by_test_id("fixed-return-link").click()
    page.wait_for_url(f"{emu.base_url}/freemius/return")
    expect(page.get_by_test_id("return-status")).to_have_text("Thank you")


def test_a_paywall_with_a_success_redirect_url_sends_buyers_there_not_here(api: Api, control: ControlClient) -> None:
    """Paywall 3 has settings.success_redirect_url: both outcomes go there (002), never to these pages."""
    paid, declined = (start(api, STRIPE_PW, "102", f"{n}@example.com") for n in ("r1", "r2"))
    assert control.complete_checkout(paid)["redirect_url"].startswith("https://app.example.com/success#paywall_status=paid")
    assert control.decline_checkout(declined)["redirect_url"].startswith(
        "https://app.example.com/success#paywall_status=failed")


@pytest.mark.parametrize("path", ["checkout/success", "checkout/error", "customer-portal/return"])
def test_every_paywall_page_answers_html_with_a_way_back(api: Api, path: str) -> None:
    with_shop = requests.get(f"{api.base_url}/paywall/{STRIPE_PW}/{path}?paywall_status=paid", timeout=30)
    assert with_shop.status_code == 200 and with_shop.headers["Content-Type"].startswith("text/html")
    assert '<a data-testid="back-link" href="https://app.example.com/pricing">Back to Acme Pro</a>' in with_shop.text
    plain = requests.get(f"{api.base_url}/paywall/{TOKEN_PW}/{path}", timeout=30)
    assert plain.status_code == 200 and 'data-testid="close-hint"' in plain.text and "Acme Chat" in plain.text
    assert error_of(api.get(f"/paywall/nope/{path}")) == (404, "not_found")


def test_the_freemius_landing_over_http(api: Api) -> None:
    resp = requests.get(f"{api.base_url}/freemius/return", timeout=30)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert 'data-testid="freemius-return-page"' in resp.text
