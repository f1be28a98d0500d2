"""A real headless Chromium (driven by Playwright) clicks through the hosted pages of a served emulator:
Pay on a Stripe checkout lands on the merchant's success page with the markers, a magic decline card
lands on the error page, Freemius stays on its own page, and the portal's Cancel button works. The
merchant is a tiny local HTTP server, so every navigation completes on 127.0.0.1.

Chromium and Playwright are required, never skipped: `bash scripts/test` installs them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from .browser import HTML, local_site, static_site
from .browser import browser as browser  # the fixtures
from .browser import page as page
from .conftest import ACME_KEY, FREEMIUS_PW, STRIPE_PW, Api

ALICE_SUB = "sub_seedAlicePro000000000001"


def _merchant_page(path: str) -> tuple[bytes, str]:
    return f"<!doctype html><title>merchant</title><h1 id='merchant'>merchant {path}</h1>".encode(), HTML


@pytest.fixture(scope="module")
def merchant() -> Iterator[str]:
    """The merchant's site: any GET answers a small page, so the browser's redirect completes."""
    with local_site(static_site(_merchant_page)) as port:
        yield f"http://127.0.0.1:{port}"


def start(api: Api, merchant: str, *, paywall: str = STRIPE_PW, price: str = "102", email: str) -> str:
    resp = api.post(f"/api/v1/paywall/{paywall}/start-checkout", key=ACME_KEY, json={
        "email": email, "priceId": price, "successUrl": f"{merchant}/welcome", "errorUrl": f"{merchant}/sorry"})
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["checkoutUrl"]
    return url


def markers(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


def user_of(api: Api, paywall: str, email: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/paywall/{paywall}/user", key=ACME_KEY, params={"email": email})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_pay_lands_on_the_success_page_with_the_markers(page: Page, api: Api, merchant: str) -> None:
    url = start(api, merchant, email="browser.payer@example.com")
    session_id = urlsplit(url).path.rsplit("/", 1)[-1]
    page.goto(url)
    assert page.title().startswith("Stripe Checkout")
    assert page.get_by_test_id("amount").inner_text() == "99.00 USD"
    assert page.get_by_test_id("email").inner_text() == "browser.payer@example.com"
    assert page.get_by_test_id("card").input_value() == "4242 4242 4242 4242"
    page.get_by_test_id("pay").click()
    page.wait_for_url(f"{merchant}/welcome#*")
    assert page.url == (f"{merchant}/welcome#paywall_status=paid&paywall_price_id=102"
                        f"&paywall_session_id={session_id}")
    assert page.locator("#merchant").inner_text() == "merchant /welcome"
    user = user_of(api, STRIPE_PW, "browser.payer@example.com")
    assert user["paid"] is True and [p["status"] for p in user["purchases"]] == ["active"]


def test_a_magic_decline_card_lands_on_the_error_page(page: Page, api: Api, merchant: str) -> None:
    page.goto(start(api, merchant, email="browser.decline@example.com"))
    page.get_by_test_id("card").fill("4000 0000 0000 0002")
    page.get_by_test_id("pay").click()
    page.wait_for_url(f"{merchant}/sorry#*")
    assert markers(page.url)["paywall_status"] == "failed"
    user = user_of(api, STRIPE_PW, "browser.decline@example.com")
    assert user["paid"] is False and user["purchases"] == []


def test_the_decline_button_lands_on_the_error_page(page: Page, api: Api, merchant: str) -> None:
    page.goto(start(api, merchant, email="browser.button@example.com"))
    page.get_by_test_id("decline").click()
    page.wait_for_url(f"{merchant}/sorry#*")
    assert markers(page.url)["paywall_status"] == "failed"
    assert user_of(api, STRIPE_PW, "browser.button@example.com")["paid"] is False


def test_freemius_stays_on_its_page_and_the_user_has_access(page: Page, api: Api, merchant: str) -> None:
    url = start(api, merchant, paywall=FREEMIUS_PW, price="301", email="browser.desk@example.com")
    page.goto(url)
    assert page.title().startswith("Freemius Checkout")
    page.get_by_test_id("pay").click()
    expect(page.get_by_test_id("outcome")).to_have_attribute("data-status", "paid")
    assert page.get_by_test_id("return-hint").inner_text() == "Payment received — return to Acme Desktop."
    assert page.url == url  # no redirect: the form posted back to the page itself
    assert page.get_by_test_id("pay").count() == 0
    assert user_of(api, FREEMIUS_PW, "browser.desk@example.com")["paid"] is True


def test_portal_cancel_button(page: Page, api: Api, merchant: str) -> None:
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/get-customer-portal", key=ACME_KEY,
                    json={"email": "alice@example.com", "returnUrl": f"{merchant}/account"})
    assert resp.status_code == 200, resp.text
    url = resp.json()["url"]
    page.goto(url)
    row = page.locator(f'[data-subscription-id="{ALICE_SUB}"]')
    assert row.get_by_test_id("cancel-at-period-end").inner_text() == "no"
    page.get_by_test_id(f"cancel-{ALICE_SUB}").click()
    expect(row.get_by_test_id("cancel-at-period-end")).to_have_text("yes")  # the 303 brought the page back
    assert page.url == url and page.get_by_test_id(f"cancel-{ALICE_SUB}").count() == 0
    [purchase] = user_of(api, STRIPE_PW, "alice@example.com")["purchases"]
    assert purchase["cancel_at_period_end"] is True
    page.get_by_test_id("return-link").click()
    page.wait_for_url(f"{merchant}/account")
