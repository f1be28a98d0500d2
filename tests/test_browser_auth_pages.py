"""The mailed links' pages and the OAuth callback page in a real headless Chromium (Playwright): the
confirmation link confirms and the tab closes itself; the reset link's form refuses a weak password,
sets a good one and works once; the callback page opened without a popup's opener says so. The
OAuth popup itself is in test_browser_oauth.py.

Chromium and Playwright are required, never skipped: `bash scripts/test` installs them."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from paywall_emulator.testing import ControlClient

from .auth_support import PASSWORD, auth, ok
from .browser import browser, page  # noqa: F401  (fixtures: one Chromium per module)
from .conftest import STRIPE_PW, Api

if TYPE_CHECKING:
    from playwright.sync_api import Page

def signs_in(api: Api, email: str, password: str) -> int:
    return api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/email/signin",
                    json={"email": email, "password": password}).status_code


def test_the_confirmation_link_confirms_and_closes_its_tab(page: Page, api: Api,  # noqa: F811
                                                          control: ControlClient) -> None:
    from playwright.sync_api import expect

    ok(auth(api, "email/signup", {"email": "cora@example.com", "password": PASSWORD}))
    assert signs_in(api, "cora@example.com", PASSWORD) == 400  # email_not_confirmed
    link = html.escape(str(control.mailbox("cora@example.com")[0]["link"]))
    page.context.clock.install()  # the tab's timers run on this clock: its closing is checked, not waited for
    page.set_content(f'<a id="link" href="{link}" target="_blank">Confirm</a>')  # a webmail's link
    with page.expect_popup() as opened:
        page.locator("#link").click()
    tab = opened.value
    expect(tab.locator("body")).to_have_attribute("data-status", "confirmed")
    expect(tab.get_by_test_id("email")).to_have_text("cora@example.com")
    assert signs_in(api, "cora@example.com", PASSWORD) == 200
    tab.clock.run_for(3_000)
    assert not tab.is_closed()  # a few seconds to read it first
    with tab.expect_event("close"):  # "then closes its own tab"
        tab.clock.run_for(600)


def test_the_reset_link_sets_a_password_once(page: Page, api: Api, control: ControlClient) -> None:  # noqa: F811
    from playwright.sync_api import expect

    ok(auth(api, "otp/send", {"email": "rita@example.com"}))
    ok(auth(api, "otp/verify", {"email": "rita@example.com", "token": control.mailbox("rita@example.com")[0]["code"]}))
    ok(auth(api, "password/request-reset", {"email": "rita@example.com"}))
    link = str(control.mailbox("rita@example.com")[0]["link"])
    page.goto(link)
    expect(page.locator("body")).to_have_attribute("data-status", "form")
    page.get_by_test_id("password").fill("abc")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("message")).to_contain_text("6 to 72")
    expect(page.locator("body")).to_have_attribute("data-status", "form")
    page.get_by_test_id("password").fill("a-new-password")
    page.get_by_test_id("save").click()
    expect(page.locator("body")).to_have_attribute("data-status", "updated")
    expect(page.get_by_test_id("email")).to_have_text("rita@example.com")
    assert signs_in(api, "rita@example.com", "a-new-password") == 200
    page.goto(link)  # a link works once
    expect(page.locator("body")).to_have_attribute("data-status", "error")
    expect(page.get_by_test_id("message")).to_have_attribute("data-code", "invalid_otp")


def test_the_callback_page_without_an_opener_says_so(page: Page, api: Api) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page.goto(f"{api.base_url}/paywall/v3/auth/callback?code=abc")
    expect(page.locator("body")).to_have_attribute("data-status", "success")
    expect(page.get_by_test_id("status")).to_contain_text("no window to return to")
    page.goto(f"{api.base_url}/paywall/v3/auth/callback#error=access_denied&error_description=nope")
    expect(page.locator("body")).to_have_attribute("data-status", "error")
    assert not page.is_closed()
