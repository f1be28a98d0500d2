"""History caps (`EmulatorConfig.limits`): the event log, the delivery history, the analytics events, the
checkouts that ended unpaid and the mailbox keep at most about their cap, the oldest evicted first (events
only once turned into deliveries, deliveries only once finished, checkouts only unpaid; a mail's code
outlives it), the evictions counted in the state dump, and a clock move that evicts still reports exactly
the events it caused that are kept. Uses its own emulator with tiny caps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from paywall_emulator.config import EmulatorConfig, Limits
from paywall_emulator.testing import ControlError, ThreadedEmulator

from .conftest import ACME_KEY, STRIPE_PW, Api
from .test_webhooks import SECRET, Receiver, deliveries, register, when

START = datetime(2030, 1, 1, tzinfo=UTC)
# Tiny caps for every product's tables (test_history_caps_products shares the fixtures below).
LIMITS = Limits(events=16, deliveries=16, analytics=32, ledger=16, checkouts=8, mailbox=8)


@pytest.fixture(scope="module")
def capped() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig(strict_responses=True, start_time=START, limits=LIMITS)) as emu:
        yield emu


@pytest.fixture
def emu(capped: ThreadedEmulator) -> ThreadedEmulator:
    capped.control.reset()
    return capped


def _monetize(emu: ThreadedEmulator) -> dict[str, Any]:
    state: dict[str, Any] = emu.control.state()["monetize"]
    return state


def test_analytics_keep_the_newest_and_count_the_rest(emu: ThreadedEmulator) -> None:
    url = f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/events"
    for batch in range(5):
        events = [{"type": "paywall_viewed", "ts": 1, "props": {"i": batch * 20 + i}} for i in range(20)]
        resp = requests.post(url, json={"events": events}, headers={"X-Api-Key": ACME_KEY}, timeout=10)
        assert resp.status_code == 204
    state = _monetize(emu)
    kept = [row["props"]["i"] for row in state["analytics"]]
    assert LIMITS.analytics <= len(kept) <= LIMITS.analytics + LIMITS.analytics // 16
    assert kept == list(range(100 - len(kept), 100))  # the newest, in order
    assert state["evicted"] == {"events": 0, "deliveries": 0, "analytics": 100 - len(kept), "checkouts": 0,
                                "mailbox": 0}


def test_a_long_move_evicts_delivered_events_and_finished_deliveries(emu: ThreadedEmulator) -> None:
    with Receiver() as receiver:
        endpoint = register(emu.control, receiver.url, secret=SECRET)
        before = _monetize(emu)
        move = emu.control.clock.advance(days=800)  # two years of monthly renewals, each with its webhooks
    state = _monetize(emu)
    evicted = state["evicted"]
    assert evicted["events"] > 0 and evicted["deliveries"] > 0 and evicted["analytics"] == 0
    assert len(state["events"]) <= LIMITS.events + LIMITS.events // 16 + 8  # + what the last steps added
    kept = deliveries(emu.control, endpoint_id=endpoint["id"])
    assert len(kept) <= LIMITS.deliveries + LIMITS.deliveries // 16 + 8
    assert all(d["status"] == "succeeded" for d in kept)
    # Every delivery was made once, evicted from the history or not (the endpoint gets its owner's events).
    assert len(receiver.received) == evicted["deliveries"] + len(kept)
    caused = evicted["events"] + len(state["events"]) - len(before["events"])
    assert len(set(receiver.ids())) < caused
    # The move reports the events it caused that are still kept: exactly the log's tail, in order.
    reported = [e["id"] for e in move["events"]]
    assert reported == [e["id"] for e in state["events"]][-len(reported):]
    assert len(reported) > 0 and all(when(e["created_at"]) > START for e in move["events"])


def test_checkouts_that_ended_unpaid_keep_the_newest_and_paid_ones_stay(emu: ThreadedEmulator) -> None:
    control = emu.control
    before = {c["id"] for c in _monetize(emu)["checkouts"]}
    api = Api(emu.base_url)
    started = [api.start_checkout({"email": f"guest{i}@example.com", "priceId": "101",
                                   "visitorId": f"visitor-{i % 2:08d}"}) for i in range(30)]
    ids = [control.checkout_session_id(c) for c in started]
    control.complete_checkout(started[0])
    control.decline_checkout(started[1])
    control.cancel_checkout(started[2])
    control.clock.advance(days=2)  # the other 27 expire, in the order they were started
    state = _monetize(emu)
    status = {c["id"]: c["status"] for c in state["checkouts"] if c["id"] not in before}
    ended = ids[1:]  # in the order they ended: declined, cancelled, then the expired ones
    evicted = state["evicted"]["checkouts"]
    assert 0 < len(ended) - evicted <= LIMITS.checkouts + LIMITS.checkouts // 16 + 1
    assert list(status) == [ids[0], *ended[evicted:]]  # the paid one stays; the newest unpaid ones stay
    assert status[ids[0]] == "paid" and {status[i] for i in ended[evicted:]} == {"expired"}
    gone = ids[1]
    assert requests.get(started[1]["checkoutUrl"], timeout=10).status_code == 404  # its hosted page is gone too
    with pytest.raises(ControlError) as refused:
        control.complete_checkout(gone)
    assert refused.value.status == 404
    # Users and the paid checkout's purchase are not history: they stay.
    user = requests.get(f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/user", headers={"X-Api-Key": ACME_KEY},
                        params={"email": "guest1@example.com"}, timeout=10)
    assert user.status_code == 200 and user.json()["paid"] is False
    paid = requests.get(f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/user", headers={"X-Api-Key": ACME_KEY},
                        params={"email": "guest0@example.com"}, timeout=10)
    assert paid.json()["paid"] is True


def test_the_mailbox_keeps_the_newest_and_its_codes_outlive_it(emu: ThreadedEmulator) -> None:
    url = f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/auth/otp"
    addresses = [f"cap{i}@example.com" for i in range(20)]
    for address in addresses:
        assert requests.post(f"{url}/send", json={"email": address}, timeout=10).status_code == 200
    state = _monetize(emu)
    kept = [m["to"] for m in state["mailbox"]]
    assert state["evicted"]["mailbox"] == 20 - len(kept) > 0 and len(kept) <= LIMITS.mailbox + 1
    assert kept == addresses[20 - len(kept):]  # the newest, oldest first
    assert emu.control.mailbox(addresses[0]) == []
    code = emu.call(lambda: emu.world.states["monetize"].auth.codes_by_email[addresses[0]][-1].code)
    verified = requests.post(f"{url}/verify", json={"email": addresses[0], "token": code}, timeout=10)
    assert verified.status_code == 200 and verified.json()["user"]["email"] == addresses[0]
