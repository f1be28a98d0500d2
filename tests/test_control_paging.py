"""The control API's long lists answer one page at a time: the state dump (every table of every product at
once), monetize's event log and delivery log and PayKit's fake-Stripe events hold at most `limit` rows
from `offset` on, say in `page.more` whether more follow, page over filtered matches, refuse a bad window
with 400, and `ControlClient` reads every page."""

from __future__ import annotations

import time
from typing import Any

import requests

from paywall_emulator.testing import ControlClient, ThreadedEmulator

from .conftest import Api, error_of
from .test_webhooks import Receiver, register

SECTIONS = ("monetize", "paykit", "paywalls-ai")


def _page(emu: ThreadedEmulator, path: str, **query: Any) -> dict[str, Any]:
    resp = requests.get(f"{emu.base_url}/_emulator{path}", params=query, timeout=10)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _walk(emu: ThreadedEmulator, path: str, key: str, size: int, **query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        answer = _page(emu, path, offset=len(rows), limit=size, **query)
        assert answer["page"] == {"offset": len(rows), "limit": size, "more": answer["page"]["more"]}
        assert len(answer[key]) == size or not answer["page"]["more"]
        rows.extend(answer[key])
        if not answer["page"]["more"]:
            return rows


def _walk_state(emu: ThreadedEmulator, size: int) -> list[dict[str, Any]]:
    """The state dump's pages of `size`: every table of every product pages together, on one window."""
    pages: list[dict[str, Any]] = []
    while True:
        answer = _page(emu, "/state", offset=len(pages) * size, limit=size)
        assert answer["page"] == {"offset": len(pages) * size, "limit": size, "more": answer["page"]["more"]}
        longest = max(len(rows) for section in SECTIONS for rows in answer[section].values() if isinstance(rows, list))
        assert longest <= size and (longest == size or not answer["page"]["more"])
        pages.append(answer)
        if not answer["page"]["more"]:
            return pages


def _buy(api: Api, emu: ThreadedEmulator, count: int) -> None:
    for i in range(count):
        emu.control.complete_checkout(api.start_checkout({"email": f"pager{i}@example.com", "priceId": "102"}))


def test_monetize_event_and_delivery_logs_page(api: Api, emu: ThreadedEmulator) -> None:
    with Receiver() as receiver:
        endpoint = register(emu.control, receiver.url)
        _buy(api, emu, 6)  # a payment and a subscription each: 12 events, 12 deliveries
        receiver.wait_for(12)
        deadline = time.monotonic() + 20
        # Each attempt's record lands just after the receiver answered: the pages must not move under us.
        while any(d["status"] == "pending" for d in _page(emu, "/webhooks/deliveries")["deliveries"]):
            assert time.monotonic() < deadline, "deliveries still pending after 20 s"
            time.sleep(0.01)
        whole = _page(emu, "/events", limit=100_000)
        assert whole["page"] == {"offset": 0, "limit": 100_000, "more": False} and len(whole["events"]) >= 12
        assert _walk(emu, "/events", "events", 5) == whole["events"]
        assert _walk(emu, "/events", "events", 1, type="payment.completed") == \
            [e for e in whole["events"] if e["type"] == "payment.completed"]
        mine = _page(emu, "/webhooks/deliveries", endpoint_id=endpoint["id"])["deliveries"]
        assert len(mine) == 12
        assert _walk(emu, "/webhooks/deliveries", "deliveries", 5, endpoint_id=endpoint["id"]) == mine
        past = _page(emu, "/events", offset=len(whole["events"]), limit=3)
        assert past == {"events": [], "page": {"offset": len(whole["events"]), "limit": 3, "more": False}}
        small = ControlClient(emu.base_url, page_size=5)  # the client reads every page
        assert small.events() == whole["events"]
        assert small.deliveries(endpoint_id=endpoint["id"]) == mine


def test_the_state_dump_pages_through_every_table(api: Api, emu: ThreadedEmulator) -> None:
    for i in range(5):
        api.start_checkout({"email": f"pager{i}@example.com", "priceId": "101"})
    whole = emu.control.state()
    assert whole["page"]["more"] is False and len(whole["monetize"]["checkouts"]) == 5
    pages = _walk_state(emu, 2)
    longest = max(len(rows) for section in SECTIONS for rows in whole[section].values() if isinstance(rows, list))
    assert len(pages) == (longest + 1) // 2  # the last page is the first with nothing past it
    for section in SECTIONS:
        for table, rows in whole[section].items():
            if isinstance(rows, list):  # the pages, put together, are the whole table, in order
                assert [r for page in pages for r in page[section][table]] == rows, (section, table)


def test_a_bad_window_is_refused_and_changes_nothing(emu: ThreadedEmulator) -> None:
    before = emu.control.state()
    for path in ("/state", "/events", "/webhooks/deliveries", "/paykit/events"):
        for query in ({"limit": 0}, {"limit": 100_001}, {"offset": -1}, {"limit": "ten"}, {"limit": "many"}):
            resp = requests.get(f"{emu.base_url}/_emulator{path}", params=query, timeout=10)
            assert resp.status_code == 400, (path, query, resp.text)
            if not path.startswith("/paykit/"):  # the control API's own error shape
                assert error_of(resp) == (400, "invalid_request"), (path, query)
            named = next(iter(query))  # each product's error shape names the parameter
            assert f"query.{named}" in (resp.json().get("message") or resp.json()["error"]), (path, resp.text)
    assert emu.control.state() == before


def test_paykit_event_log_pages(emu: ThreadedEmulator) -> None:
    headers = {"x-paykit-key": "sk_live_demo"}
    for i in range(5):
        started = requests.post(f"{emu.base_url}/api/v1/checkout", json={"userId": f"pager{i}", "kind": "credits"},
                                headers=headers, timeout=10)
        assert started.status_code == 200, started.text
        session = str(started.json()["url"]).rsplit("/", 1)[1]
        paid = requests.post(f"{emu.base_url}/_emulator/paykit/checkout/{session}/complete", timeout=10)
        assert paid.status_code == 200, paid.text
    whole = _page(emu, "/paykit/events")
    assert whole["page"] == {"offset": 0, "limit": 10_000, "more": False} and len(whole["events"]) == 5
    assert _walk(emu, "/paykit/events", "events", 2) == whole["events"]
