"""Wildcard webhook subscriptions (000: "Create a webhook for subscription.*, payment.completed,
refund.created"): `*` takes every type, `<family>.*` every type of the family, an event matched by
several entries is delivered once, through the control API and the world file alike; anything else
is refused before anything is registered."""

from __future__ import annotations

from typing import Any

import pytest

from paywall_emulator.products.monetize.webhooks import subscribes
from paywall_emulator.testing import ThreadedEmulator
from tests.worlds import monetize_section

from .conftest import Api, error_of
from .test_webhooks import ALICE_SUB, ERIN_SUB, FRANK_PAYMENT, SECRET, Receiver, deliveries, emit, register
from .test_webhooks import receiver as receiver  # the fixture

EVERY = ("payment.completed", "subscription.created", "subscription.updated", "subscription.cancelled",
         "refund.created")


def emit_every_type(emu: ThreadedEmulator) -> dict[str, str]:
    ids = emit(emu, ("payment.completed", FRANK_PAYMENT), ("subscription.created", ALICE_SUB),
               ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ERIN_SUB),
               ("refund.created", FRANK_PAYMENT))
    return dict(zip(ids, EVERY, strict=True))


@pytest.mark.parametrize(("events", "expected"), [
    (["subscription.*"], {"subscription.created", "subscription.updated", "subscription.cancelled"}),
    (["*"], set(EVERY)),
    (["subscription.*", "payment.completed", "refund.created"], set(EVERY)),  # the guide's own list
    (["payment.*"], {"payment.completed"}),
    (["refund.*", "subscription.cancelled"], {"refund.created", "subscription.cancelled"}),
    (["*", "subscription.*", "subscription.updated"], set(EVERY)),  # overlapping entries: once each
    (None, set(EVERY)),
])
def test_wildcards_select_the_types_and_deliver_each_event_once(
        emu: ThreadedEmulator, receiver: Receiver, events: list[str] | None, expected: set[str]) -> None:
    endpoint = register(emu.control, receiver.url, events=events)
    assert endpoint["events"] == events
    by_id = emit_every_type(emu)
    got = receiver.wait_for(len(expected))
    assert sorted(r.event_id for r in got) == sorted(i for i, t in by_id.items() if t in expected)
    log = deliveries(emu.control, endpoint_id=endpoint["id"])
    assert sorted(d["type"] for d in log) == sorted(expected)


def test_wildcard_endpoints_receive_later_events_too(emu: ThreadedEmulator, receiver: Receiver, api: Api) -> None:
    """Over time: a renewal a month later reaches `subscription.*`, not `payment.*` only endpoints."""
    subs = register(emu.control, receiver.url, events=["subscription.*"])
    register(emu.control, "http://127.0.0.1:9/never", events=["refund.*"])
    emu.control.clock.advance(days=31)  # alice's monthly subscription renews
    happened = {e["type"] for e in emu.control.request("GET", "/events")["events"]}
    assert {"subscription.updated", "subscription.cancelled", "payment.completed"} <= happened
    log = deliveries(emu.control, endpoint_id=subs["id"])
    assert {d["type"] for d in log} == {t for t in happened if t.startswith("subscription.")}
    assert [d for d in deliveries(emu.control) if d["url"] == "http://127.0.0.1:9/never"] == []


@pytest.mark.parametrize("bad", ["subscriptions.*", "subscription*", "*.*", "payment.completed.*", "", "**",
                                 "Subscription.*", "checkout.*"])
def test_other_patterns_are_refused_and_register_nothing(emu: ThreadedEmulator, api: Api, bad: str) -> None:
    before = emu.control.request("GET", "/webhooks/endpoints")
    resp = api.post("/_emulator/webhooks/endpoints", json={"url": "http://127.0.0.1:9/x", "events": [bad]})
    assert error_of(resp) == (400, "invalid_request")
    assert emu.control.request("GET", "/webhooks/endpoints") == before


def test_the_world_file_takes_wildcards(emu: ThreadedEmulator, receiver: Receiver, api: Api) -> None:
    section: dict[str, Any] = monetize_section()
    section["owners"][0]["webhooks"] = [{"url": receiver.url, "secret": SECRET, "events": ["subscription.*"]}]
    emu.control.load_world({"monetize": section})
    (endpoint,) = emu.control.request("GET", "/webhooks/endpoints")["endpoints"]
    assert endpoint["events"] == ["subscription.*"]
    by_id = emit_every_type(emu)
    got = receiver.wait_for(3)
    assert sorted(by_id[r.event_id] for r in got) == ["subscription.cancelled", "subscription.created",
                                                      "subscription.updated"]
    for bad in (["subscriptions.*"], [], "subscription.*"):
        # an empty list would read as "every type" if it were taken as absent; the control API refuses it too
        section["owners"][0]["webhooks"] = [{"url": receiver.url, "events": bad}]
        assert error_of(api.post("/_emulator/world", json={"monetize": section}))[0] == 400
        assert error_of(api.post("/_emulator/webhooks/endpoints", json={"url": receiver.url, "events": bad}))[0] == 400
    assert [e["events"] for e in emu.control.request("GET", "/webhooks/endpoints")["endpoints"]] == [["subscription.*"]]


def test_subscribes() -> None:
    assert subscribes(None, "refund.created")
    assert subscribes(["*"], "payment.completed")
    assert subscribes(["subscription.*"], "subscription.cancelled")
    assert not subscribes(["subscription.*"], "payment.completed")
    assert not subscribes([], "payment.completed")
    assert not subscribes(["payment.completed"], "payment.failed")
