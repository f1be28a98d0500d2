"""One-time customer-portal URLs (002: "Returns a one-time URL"): the first browser to open a hosted
portal link keeps it (reloads, its Cancel and the redirect after it), any other visit gets a "link was
used" page (410) that changes nothing, a refused button press does not use the link, every
get-customer-portal call mints a fresh link, and the control API inspects a session without using it.
Checked with plain HTTP clients and with two headless Chromium contexts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
from playwright.sync_api import Browser, expect

from paywall_emulator.testing import ControlClient

from .browser import browser as browser  # the fixture
from .browser import new_context
from .conftest import ACME_KEY, STRIPE_PW, Api, error_of
from .test_browser_checkout import ALICE_SUB

RETURN = "https://app.example.com/account"


def portal_url(api: Api, email: str = "alice@example.com") -> str:
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/get-customer-portal", key=ACME_KEY,
                    json={"email": email, "returnUrl": RETURN})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["url"])


def session_row(control: ControlClient, url: str) -> dict[str, Any]:
    row: dict[str, Any] = control.request("GET", f"/portals/{url.rsplit('/', 1)[-1]}")
    return row


def cancel(client: requests.Session, url: str, sub: str = ALICE_SUB) -> requests.Response:
    return client.post(url, data={"action": "cancel", "subscription_id": sub}, allow_redirects=False, timeout=30)


def test_the_first_browser_keeps_the_link_and_any_other_visit_finds_it_used(
        api: Api, control: ControlClient) -> None:
    control.clock.set(control.clock.now() + timedelta(seconds=1), frozen=True)
    url = portal_url(api)
    row = session_row(control, url)
    assert row["used"] is False and row["opened_at"] is None and row["return_url"] == RETURN
    assert session_row(control, url) == row  # inspecting does not use the link

    first, second = requests.Session(), requests.Session()
    opened = first.get(url, timeout=30)
    assert opened.status_code == 200 and f'data-subscription-id="{ALICE_SUB}"' in opened.text
    assert "pw_portal=" in opened.headers["Set-Cookie"]
    row = session_row(control, url)
    assert row["used"] is True and row["opened_at"] == control.request("GET", "/clock")["now"]
    assert first.get(url, timeout=30).status_code == 200  # a reload in the same browser

    before = control.state()
    for attempt in (second.get(url, timeout=30), requests.get(url, timeout=30), cancel(second, url)):
        assert attempt.status_code == 410 and attempt.headers["Content-Type"].startswith("text/html")
        assert 'data-testid="link-used"' in attempt.text and "already used" in attempt.text
        assert f'href="{RETURN}"' in attempt.text and ALICE_SUB not in attempt.text
        assert "Set-Cookie" not in attempt.headers
    assert control.state() == before  # the used page cancelled nothing

    done = cancel(first, url)  # the browser that opened it still acts
    assert done.status_code == 303 and done.headers["Location"] == url
    assert 'data-testid="cancel-at-period-end">yes<' in first.get(url, timeout=30).text
    assert second.get(url, timeout=30).status_code == 410  # and stays the only one, later too
    control.clock.advance(days=3)
    assert second.get(url, timeout=30).status_code == 410 and first.get(url, timeout=30).status_code == 200


def test_a_refused_button_press_does_not_use_the_link(api: Api, control: ControlClient) -> None:
    url = portal_url(api)
    stranger = requests.Session()
    assert error_of(cancel(stranger, url, "sub_other")) == (404, "not_found")
    assert session_row(control, url)["used"] is False
    browser_ = requests.Session()
    assert cancel(browser_, url).status_code == 303  # a first request that is a Cancel opens the link too
    assert session_row(control, url)["used"] is True
    assert browser_.get(url, timeout=30).status_code == 200 and stranger.get(url, timeout=30).status_code == 410


def test_every_portal_call_mints_a_fresh_one_time_link(api: Api, control: ControlClient) -> None:
    one, two = portal_url(api), portal_url(api)
    assert one != two
    assert requests.get(one, timeout=30).status_code == 200
    assert requests.get(one, timeout=30).status_code == 410
    assert requests.get(two, timeout=30).status_code == 200
    assert session_row(control, one)["used"] and session_row(control, two)["used"]
    assert error_of(api.get("/_emulator/portals/ps_nope")) == (404, "not_found")


def test_in_chromium_a_second_context_sees_the_used_page(browser: Browser, api: Api) -> None:
    url = portal_url(api)
    first, second = new_context(browser), new_context(browser)
    try:
        page = first.new_page()
        page.goto(url)
        row = page.locator(f'[data-subscription-id="{ALICE_SUB}"]')
        page.get_by_test_id(f"cancel-{ALICE_SUB}").click()
        expect(row.get_by_test_id("cancel-at-period-end")).to_have_text("yes")
        other = second.new_page()
        answer = other.goto(url)
        assert answer is not None and answer.status == 410
        expect(other.get_by_test_id("link-used")).to_have_text("This link was already used")
        assert other.get_by_test_id("return-link").get_attribute("href") == RETURN
        assert other.locator("[data-subscription-id]").count() == 0
        page.reload()
        expect(page.get_by_test_id("portal-email")).to_have_text("alice@example.com")
    finally:
        first.close()
        second.close()
