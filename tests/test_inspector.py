"""The inspector page (`GET /_emulator/`) in a real headless Chromium: a checkout driven to paid with its
Pay button, a failed webhook delivery sent again with Redeliver, the clock moved with a button; with
JavaScript off it is a readable report whose buttons stay disabled; every value is escaped. A failing
browser test saves a screenshot and names it in its error."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from playwright.sync_api import Browser, Locator, Page, expect

from paywall_emulator.engine.inspector import Row, Table, generic_tables, render_page
from paywall_emulator.testing import ThreadedEmulator, WebhookReceiver

from .browser import browser as browser  # the fixture
from .browser import new_context
from .conftest import ACME_KEY, STRIPE_PW, Api

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        page.screenshot(path=str(path), full_page=True)
        exc.add_note(f"screenshot of the page: {path}")
        raise


@pytest.fixture
def open_page(browser: Browser, tmp_path: Path) -> Iterator[Callable[..., Page]]:
    contexts = []

    def opener(*, javascript: bool = True) -> Page:
        context = new_context(browser, javascript=javascript)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll `check` (a control API read) until it returns something truthy; the emulator's webhook worker
    runs in its own thread."""
    for _ in range(200):
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def row(page: Page, table: str, key: str) -> Locator:
    return page.locator(f'table[data-table="{table}"] tr[data-row="{key}"]')


def cells(locator: Locator) -> list[str]:
    return [c.strip() for c in locator.locator("td").all_inner_texts()]


def test_pay_a_checkout_and_redeliver_its_webhook(open_page: Callable[..., Page], emu: ThreadedEmulator, api: Api,
                                                  tmp_path: Path) -> None:
    page = open_page()
    with WebhookReceiver() as hooks, screenshot_on_failure(page, tmp_path / "inspector.png"):
        hooks.register(emu.control, events=["subscription.created"])
        hooks.fail_next(1)  # the first attempt is refused: the delivery waits for its retry
        started = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
                           json={"email": "inspected@example.com", "priceId": "102"})
        assert started.status_code == 200, started.text
        session = started.json()["checkoutUrl"].rsplit("/", 1)[-1]

        page.goto(emu.base_url + "/_emulator/")
        assert page.title() == "paywall-emulator inspector"
        checkout = row(page, "checkouts", session)
        assert cells(checkout)[:5] == [session, STRIPE_PW, "inspected@example.com", "102", "open"]
        page.get_by_test_id(f"pay-{session}").click()
        expect(checkout.locator("td").nth(4)).to_have_text("paid")  # the page reloaded after the call
        expect(page.get_by_test_id("status")).to_have_text(
            f"POST /_emulator/checkouts/{session}/complete -> 200")
        assert page.get_by_test_id(f"pay-{session}").count() == 0
        user = api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY, params={"email": "inspected@example.com"})
        assert user.json()["paid"] is True
        dump = emu.control.state()["monetize"]
        [buyer] = [u["id"] for u in dump["users"] if u["email"] == "inspected@example.com"]
        [subscription] = [s for s in dump["subscriptions"] if s["user_id"] == buyer]
        assert cells(row(page, "subscriptions", subscription["id"]))[4] == "active"

        [delivery] = until(lambda: [d for d in emu.control.deliveries(type="subscription.created") if d["attempts"]],
                           "the first delivery attempt")
        page.get_by_test_id("refresh").click()
        shown = row(page, "deliveries", delivery["id"])
        expect(shown.locator("td").nth(4)).to_have_text("pending")
        expect(shown.locator("td").nth(5)).to_contain_text(" 500")
        assert hooks.events("subscription.created") == []

        page.get_by_test_id(f"redeliver-{delivery['id']}").click()
        received = hooks.wait_for("subscription.created")
        assert received.data["subscription"]["id"] == subscription["id"]
        until(lambda: emu.control.deliveries(type="subscription.created")[0]["status"] == "succeeded",
              "the redelivery succeeding")
        page.get_by_test_id("refresh").click()
        expect(shown.locator("td").nth(4)).to_have_text("succeeded")
        expect(shown.locator("td").nth(5)).to_contain_text(" 200")


def test_decline_renew_expire_and_remove_fault_buttons(open_page: Callable[..., Page], emu: ThreadedEmulator,
                                                       api: Api, tmp_path: Path) -> None:
    """The page's other buttons each make their control call and the reloaded page shows the state after:
    Decline on an open checkout, Renew now and Expire on a live subscription, Remove on an active fault."""
    started = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
                       json={"email": "declined@example.com", "priceId": "102"})
    session = started.json()["checkoutUrl"].rsplit("/", 1)[-1]
    fault = emu.control.add_fault("getBootstrap", status=503, times=3)
    alice = "sub_seedAlicePro000000000001"
    period_end = next(s["current_period_end"] for s in emu.control.state()["monetize"]["subscriptions"]
                      if s["id"] == alice)
    page = open_page()
    with screenshot_on_failure(page, tmp_path / "buttons.png"):
        page.goto(emu.base_url + "/_emulator/")
        page.get_by_test_id(f"decline-{session}").click()
        expect(page.get_by_test_id("status")).to_have_text(f"POST /_emulator/checkouts/{session}/decline -> 200")
        assert cells(row(page, "checkouts", session))[4:7][0::2] == ["declined", "card_declined"]
        assert page.get_by_test_id(f"pay-{session}").count() == 0

        page.get_by_test_id(f"renew-{alice}").click()
        expect(page.get_by_test_id("status")).to_have_text(f"POST /_emulator/subscriptions/{alice}/renew -> 200")
        renewed = cells(row(page, "subscriptions", alice))
        assert renewed[4] == "active" and renewed[5] > period_end

        page.get_by_test_id(f"expire-{alice}").click()
        expect(page.get_by_test_id("status")).to_have_text(f"POST /_emulator/subscriptions/{alice}/expire -> 200")
        assert cells(row(page, "subscriptions", alice))[4] == "canceled"
        assert page.get_by_test_id(f"expire-{alice}").count() == 0  # nothing left to act on

        page.get_by_test_id(f"remove-fault-{fault['id']}").click()
        expect(page.get_by_test_id("status")).to_have_text(f"DELETE /_emulator/faults/{fault['id']} -> 204")
        assert row(page, "faults", fault["id"]).count() == 0 and emu.control.faults() == []
    user = api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state", headers={"X-User-Email": "alice@example.com"})
    assert user.json()["has_active_subscription"] is False


def test_paykit_section_pays_a_session_redelivers_its_event_and_cancels(
        open_page: Callable[..., Page], emu: ThreadedEmulator, api: Api, tmp_path: Path) -> None:
    """PayKit's part of the page: an open fake-Stripe checkout session paid with Pay (the account turns
    Pro), its webhook event sent again with Redeliver (a second attempt), the subscription cancelled with
    Cancel now (the account back to free)."""
    started = api.post("/api/v1/checkout", json={"userId": "inspected", "kind": "pro"})
    assert started.status_code == 200, started.text
    session = started.json()["url"].rsplit("/", 1)[-1]
    page = open_page()
    with screenshot_on_failure(page, tmp_path / "paykit.png"):
        page.goto(emu.base_url + "/_emulator/")
        shown = row(page, "paykit-checkouts", session)
        assert cells(shown)[1:5] == ["default", "inspected", "pro", "open"]
        page.get_by_test_id(f"paykit-pay-{session}").click()
        expect(page.get_by_test_id("status")).to_have_text(
            f"POST /_emulator/paykit/checkout/{session}/complete -> 200")
        assert cells(shown)[4] == "complete" and page.get_by_test_id(f"paykit-pay-{session}").count() == 0
        assert cells(row(page, "paykit-accounts", "default/inspected"))[2] == "pro"

        dump = emu.control.state()["paykit"]
        [event] = [e for e in dump["events"] if e["type"] == "checkout.session.completed"]
        [subscription] = [s["id"] for s in dump["subscriptions"] if s["userId"] == "inspected"]
        assert cells(row(page, "paykit-events", event["id"]))[4] == "delivered"
        page.get_by_test_id(f"paykit-redeliver-{event['id']}").click()
        expect(page.get_by_test_id("status")).to_have_text(
            f"POST /_emulator/paykit/events/{event['id']}/redeliver -> 200")
        attempts = cells(row(page, "paykit-events", event["id"]))[5]
        assert attempts.count(" 200") == 2, attempts
        [again] = [e for e in emu.control.state()["paykit"]["events"] if e["id"] == event["id"]]
        assert len(again["attempts"]) == 2

        page.get_by_test_id(f"paykit-cancel-{subscription}").click()
        expect(page.get_by_test_id("status")).to_have_text(
            f"POST /_emulator/paykit/subscriptions/{subscription}/cancel -> 200")
        assert cells(row(page, "paykit-subscriptions", subscription))[3] == "canceled"
        assert cells(row(page, "paykit-accounts", "default/inspected"))[2] == "free"
        assert page.get_by_test_id(f"paykit-cancel-{subscription}").count() == 0


def test_clock_buttons_move_the_emulator_clock(open_page: Callable[..., Page], emu: ThreadedEmulator,
                                               tmp_path: Path) -> None:
    page = open_page()
    with screenshot_on_failure(page, tmp_path / "clock.png"):
        page.goto(emu.base_url + "/_emulator/")
        before = datetime.fromisoformat(page.get_by_test_id("clock-now").inner_text())
        page.get_by_test_id("advance-7-days").click()
        expect(page.get_by_test_id("status")).to_have_text("POST /_emulator/clock/advance -> 200")
        after = datetime.fromisoformat(page.get_by_test_id("clock-now").inner_text())
        assert after - before >= timedelta(days=7)
        assert emu.control.clock.now() >= after


def test_without_javascript_the_page_is_a_readable_report(open_page: Callable[..., Page], emu: ThreadedEmulator,
                                                          tmp_path: Path) -> None:
    emu.control.add_fault("startCheckout", status=503, times=2)
    page = open_page(javascript=False)
    with screenshot_on_failure(page, tmp_path / "nojs.png"):
        page.goto(emu.base_url + "/_emulator/")
        assert cells(row(page, "paywalls", "3"))[:4] == ["3", "Upgrade to Pro", "own_acme", "stripe"]
        assert "alice@example.com" in cells(row(page, "paywalls", "3"))[6]
        [fault] = emu.control.faults()
        assert cells(row(page, "faults", fault["id"]))[1:3] == ["startCheckout", "answer 503"]
        assert page.locator("noscript").count() == 1
        buttons = page.locator("button[data-path]")
        assert buttons.count() > 5
        assert all(buttons.nth(i).is_disabled() for i in range(buttons.count()))


def test_every_value_is_escaped(emu: ThreadedEmulator) -> None:
    world = yaml.safe_load((ROOT / "fixtures" / "default.yaml").read_text(encoding="utf-8"))
    world["monetize"]["paywalls"][0]["name"] = "<script>alert('x')</script> & co"
    world["monetize"]["users"][0]["name"] = '"><img src=x onerror=alert(1)>'
    world["paykit"]["projects"][0]["name"] = "</td><script>alert(2)</script>"
    try:
        emu.control.load_world(world)
        page = requests.get(emu.base_url + "/_emulator/", timeout=10)
    finally:
        emu.restore()
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page.text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script>alert(2)" not in page.text and "&lt;/td&gt;&lt;script&gt;alert(2)" in page.text  # PayKit's
    assert "http" not in page.text.split("<main>")[0].replace("http-equiv", "")  # nothing loaded from elsewhere


def test_a_long_log_shows_its_newest_rows(emu: ThreadedEmulator) -> None:
    """Past the page's 500 rows per table, a log still shows its newest entries first, not its oldest."""
    key = {"x-paykit-key": "sk_live_demo"}
    url = f"{emu.base_url}/api/v1"
    assert requests.post(f"{url}/credits", json={"userId": "longlog", "amount": 1000}, headers=key, timeout=10).ok
    for i in range(520):
        assert requests.post(f"{url}/meter", json={"userId": "longlog", "event": f"ev{i:03d}"}, headers=key,
                             timeout=10).ok
    page = requests.get(emu.base_url + "/_emulator/", timeout=10).text
    usage = page[page.index("Usage log"):]
    shown = [f"ev{i:03d}" for i in range(520) if f">ev{i:03d}<" in usage]
    assert shown == [f"ev{i:03d}" for i in range(320, 520)]  # the newest 200
    assert usage.index(">ev519<") < usage.index(">ev518<")  # newest first


def test_a_product_without_a_layout_gets_one_table_per_table() -> None:
    tables = generic_tables({"seed": 1, "meters": [{"id": "m1", "used": 3, "limits": {"day": 5}}, {"id": "m2"}]})
    assert tables == [Table(title="meters", name="meters", columns=("id", "used", "limits"), rows=[
        Row(cells=("m1", "3", '{"day":5}')), Row(cells=("m2", "", ""))])]
    page = render_page(clock={"now": "2030-01-01T00:00:00Z", "frozen": True}, faults=[],
                       sections=[("paykit", "PayKit", tables)])
    assert '<section class="product" data-product="paykit"><h2>PayKit</h2>' in page
    assert '<td>{&quot;day&quot;:5}</td>' in page
