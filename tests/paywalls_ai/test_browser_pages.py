"""Headless Chromium on the Paywalls.ai pages: a blocked user tops up on the fake Stripe page and the
retried completion goes through; a declined test card changes nothing; a shared-mode user approves
the app on the authorization page. Chromium and Playwright are required, never skipped."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ..browser import browser as browser  # the fixtures
from ..browser import page as page
from .http_support import MODEL, SHARED_KEY, UNIT, Pw, echo_cost, link_in, openai_client

HELLO = [{"role": "user", "content": "hi"}]


def test_topup_page_then_the_retried_completion_succeeds(page: Page, emu: object) -> None:
    base = emu.base_url  # type: ignore[attr-defined]
    client, pw = openai_client(base), Pw(base)
    blocked = client.chat.completions.create(model=MODEL, messages=HELLO, user="broke")  # type: ignore[arg-type]
    page.goto(link_in(blocked.choices[0].message.content or ""))
    assert page.get_by_test_id("merchant").inner_text() == "Demo Chat"
    assert page.get_by_test_id("balance").inner_text() == "0.00 USDC"
    assert page.get_by_test_id("card").input_value() == "4242 4242 4242 4242"
    page.get_by_test_id("amount").fill("ten")
    page.get_by_test_id("pay").click()  # the browser refuses to send it
    assert page.get_by_test_id("amount").evaluate("e => e.validity.patternMismatch") is True
    assert page.get_by_test_id("banner").count() == 0
    page.get_by_test_id("amount").fill("0")
    page.get_by_test_id("pay").click()
    expect(page.get_by_test_id("banner")).to_contain_text("greater than zero")
    assert pw.balance("broke") == 0
    page.get_by_test_id("card").fill("4000 0000 0000 0002")
    page.get_by_test_id("pay").click()
    expect(page.get_by_test_id("banner")).to_contain_text("declined")
    assert pw.balance("broke") == 0
    page.get_by_test_id("card").fill("4242 4242 4242 4242")
    page.get_by_test_id("amount").fill("3")
    page.get_by_test_id("pay").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("Payment received")
    assert pw.balance("broke") == 3 * UNIT
    again = client.chat.completions.create(model=MODEL, messages=HELLO, user="broke")  # type: ignore[arg-type]
    assert again.choices[0].message.content == "Echo: hi"
    assert pw.balance("broke") == 3 * UNIT - echo_cost("hi")


def test_shared_user_approves_on_the_authorization_page(page: Page, emu: object) -> None:
    base = emu.base_url  # type: ignore[attr-defined]
    shared = Pw(base, SHARED_KEY)
    url = shared.get("/v1/user/connect", params={"user": "dave"}).json()["url"]
    page.goto(url)
    assert page.get_by_test_id("app").inner_text() == "Shared Wallet Demo"
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("Authorized")
    assert shared.get("/v1/user/connect", params={"user": "dave"}).json()["connected"] is True
    reply = openai_client(base, SHARED_KEY).chat.completions.create(model=MODEL, messages=HELLO, user="dave")  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Echo: hi"
