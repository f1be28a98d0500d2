"""The embed script in a real headless Chromium: a plain HTML page on a local site loads
`/embed.js` from the emulator, meters until blocked, is sent to the fake Stripe Checkout, pays, comes
back to `/?paid=1` with the meter repainted, then upgrades to Pro and sees the Pro-only element; a Pro
user cancels in the fake billing portal and is back on free.
Chromium and Playwright are required, never skipped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from paywall_emulator.testing import ControlClient, ThreadedEmulator

from ..browser import browser as browser  # the fixture
from ..browser import local_site, new_context, static_site
from .support import STUDIO, STUDIO_PK, STUDIO_SK, STUDIO_WHSEC


def _page(script: str) -> bytes:
    return ("<!doctype html><html><head><meta charset='utf-8'><title>studio</title></head><body>"
            f"<h1>Image studio</h1><div id='paykit'></div>{script}"
            "<button id='generate' data-paykit-meter='image_gen'>Generate</button>"
            "<div id='pro-only' data-paykit-plan='pro'>Pro-only content</div>"
            "</body></html>").encode()


def _site(emulator_url: str) -> type[BaseHTTPRequestHandler]:
    """`/`: the embed loaded from the emulator. `/self-hosted`: the embed served by the site itself
    (`/embed.js`, the emulator's bytes), pointed at the emulator with `data-base`, for a fixed `data-user`."""
    embed = requests.get(f"{emulator_url}/embed.js", timeout=30).content
    pages = {
        "/": _page(f"<script src='{emulator_url}/embed.js' data-key='{STUDIO_PK}' data-accent='#ff00aa'></script>"),
        "/self-hosted": _page(f"<script src='/embed.js' data-key='{STUDIO_PK}' data-base='{emulator_url}' "
                              "data-user='site_user_7'></script>"),
    }

    def render(path: str) -> tuple[bytes, str]:
        path = path.split("?", 1)[0]
        if path == "/embed.js":
            return embed, "text/javascript"
        return pages.get(path, pages["/"]), "text/html; charset=utf-8"

    return static_site(render)


@pytest.fixture
def site(emu: ThreadedEmulator) -> Iterator[str]:
    # `localhost` while the emulator is on 127.0.0.1: another site, as a real app beside the emulator is
    # (the redirect to the hosted checkout is a cross-site navigation).
    with local_site(_site(emu.base_url)) as port:
        yield f"http://localhost:{port}"


@pytest.fixture
def studio(browser: Browser, site: str, paykit_world: Callable[[dict[str, Any]], None]) -> Iterator[Page]:
    """The site's `/` in a fresh browser context, its project (Image Studio) returning buyers to the site."""
    paykit_world({"projects": [{"id": STUDIO, "name": "Image Studio", "publishableKey": STUDIO_PK,
                                "secretKey": STUDIO_SK, "webhookSecret": STUDIO_WHSEC, "baseUrl": site}]})
    context = new_context(browser)
    try:
        page = context.new_page()
        page.goto(f"{site}/")
        yield page
    finally:
        context.close()


def test_embed_meters_buys_and_upgrades(studio: Page, site: str, control: ControlClient) -> None:
    page = studio
    credits = page.locator("[data-paykit-credits]")
    expect(credits).to_have_text("5")
    user = page.evaluate("window.PayKit.user")
    assert user.startswith("web_") and page.evaluate("localStorage.getItem('paykit_uid')") == user
    assert page.evaluate("window.PayKit.account().credits") == 5
    expect(page.locator("#pro-only")).to_be_hidden()
    widget = page.locator("[data-paykit-widget]")
    assert "rgb(255, 0, 170)" in widget.evaluate("el => getComputedStyle(el).borderColor")
    for left in ["4", "3", "2", "1", "0"]:
        page.click("#generate")
        expect(credits).to_have_text(left)
    page.click("#generate")  # blocked: the embed opens checkout for a pack
    page.wait_for_url("**/_emulator/paykit/checkout/cs_test_*")
    expect(page.locator("[data-testid=amount]")).to_have_text("$9.00 USD")
    page.click("[data-testid=pay]")
    page.wait_for_url(f"{site}/?paid=1")
    expect(page.locator("[data-paykit-credits]")).to_have_text("100")
    blocked = page.evaluate("window.PayKit.meter('image_gen', 4)")
    assert blocked == {"ok": True, "remaining": 96}
    expect(page.locator("[data-paykit-credits]")).to_have_text("96")
    page.click("[data-paykit-upgrade]")
    page.wait_for_url("**/_emulator/paykit/checkout/cs_test_*")
    expect(page.locator("[data-testid=amount]")).to_have_text("$19.00 USD")
    page.click("[data-testid=pay]")
    page.wait_for_url(f"{site}/?paid=1")
    expect(page.locator("[data-paykit-pro]")).to_be_visible()
    expect(page.locator("#pro-only")).to_be_visible()
    assert page.evaluate("window.PayKit.account().entitlements") == ["pro"]
    # the same browser keeps its id; the ledger agrees with the page
    accounts = {a["userId"]: a for a in control.state()["paykit"]["accounts"] if a["projectId"] == STUDIO}
    assert accounts[user]["credits"] == 96 and accounts[user]["plan"] == "pro"


def test_embed_with_data_user_and_data_base(browser: Browser, site: str, control: ControlClient) -> None:
    context = new_context(browser)
    page = context.new_page()
    try:
        page.goto(f"{site}/self-hosted")
        expect(page.locator("[data-paykit-credits]")).to_have_text("5")
        assert page.evaluate("window.PayKit.user") == "site_user_7"
        assert page.evaluate("localStorage.getItem('paykit_uid')") is None  # no per-browser id was needed
        border = page.locator("[data-paykit-widget]").evaluate("el => getComputedStyle(el).borderColor")
        assert border == "rgb(52, 211, 153)"  # no data-accent: the default #34d399
        page.click("#generate")
        expect(page.locator("[data-paykit-credits]")).to_have_text("4")
        rows = [a for a in control.state()["paykit"]["accounts"] if a["userId"] == "site_user_7"]
        assert [(r["projectId"], r["credits"]) for r in rows] == [(STUDIO, 4)]
    finally:
        context.close()


def test_embed_manage_billing_cancels_pro_in_the_portal(studio: Page, site: str, emu: ThreadedEmulator,
                                                       control: ControlClient) -> None:
    """A Pro user's meter offers Manage billing: the hosted fake portal lists the subscription, Cancel now
    ends it (the signed `customer.subscription.deleted` reaches the webhook), and the way back to the app
    shows the account on free, the Pro-only element hidden again."""
    page = studio
    expect(page.locator("[data-paykit-credits]")).to_have_text("5")
    user = page.evaluate("window.PayKit.user")
    url = requests.post(f"{emu.base_url}/api/v1/checkout",
                        json={"userId": user, "kind": "pro", "key": STUDIO_PK}, timeout=30).json()["url"]
    paid = control.request("POST", f"/paykit/checkout/{url.rsplit('/', 1)[1]}/complete")
    page.evaluate("window.PayKit.refresh()")
    expect(page.locator("[data-paykit-pro]")).to_be_visible()
    expect(page.locator("#pro-only")).to_be_visible()
    page.click("[data-paykit-portal]")
    page.wait_for_url("**/_emulator/paykit/portal/bps_*")
    row = page.locator(f"[data-subscription-id='{paid['subscription']}']")
    expect(row.locator("[data-testid=status]")).to_have_text("active")
    row.locator("[data-testid=cancel-now]").click()
    expect(page.locator(f"[data-subscription-id='{paid['subscription']}'] [data-testid=status]")).to_have_text(
        "canceled")
    page.click("[data-testid=return-link]")
    page.wait_for_url(f"{site}/?portal=1")
    expect(page.locator("[data-paykit-upgrade]")).to_be_visible()
    expect(page.locator("[data-paykit-pro]")).to_have_count(0)
    expect(page.locator("#pro-only")).to_be_hidden()
    assert page.evaluate("window.PayKit.account()") == {"userId": user, "plan": "free", "credits": 5,
                                                        "entitlements": [], "stripeCustomerId": paid["customer"]}
    events = control.state()["paykit"]["events"]
    assert [(e["type"], e["status"]) for e in events] == [("checkout.session.completed", "delivered"),
                                                          ("customer.subscription.deleted", "delivered")]
