"""History caps of PayKit and Paywalls.ai (`Limits.ledger`, `.events`, `.checkouts`): PayKit's usage log
and expired checkout sessions and Paywalls.ai's ledger and event log keep at most about their cap, newest
kept, the evictions counted in the state dump; an event something still has to deliver is never evicted;
Paywalls.ai's idempotency records go once expired. Uses its own emulator with tiny caps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests

from paywall_emulator.products.paykit.models import StripeEvent, StripeSnapshot
from paywall_emulator.products.paykit.state import PayKitState
from paywall_emulator.products.paywalls_ai.models import Delivery, Event
from paywall_emulator.products.paywalls_ai.state import PaywallsState
from paywall_emulator.testing import ThreadedEmulator

from .test_history_caps import LIMITS, START
from .test_history_caps import capped as capped  # the fixtures: one emulator with tiny caps per module
from .test_history_caps import emu as emu

PAYKIT = {"Content-Type": "application/json", "x-paykit-key": "sk_live_demo"}
PAYWALLS = {"Content-Type": "application/json", "Authorization": "Bearer sk-paywalls-v1-emulator-demo"}


def post(emu: ThreadedEmulator, path: str, body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
    return requests.post(emu.base_url + path, json=body, headers=headers, timeout=10)


def within_cap(count: int, cap: int) -> bool:
    return cap <= count <= cap + max(cap // 16, 1)


def test_paykit_usage_log_keeps_the_newest(emu: ThreadedEmulator) -> None:
    granted = post(emu, "/api/v1/credits", {"userId": "capped", "amount": 1000}, PAYKIT)
    assert granted.status_code == 200, granted.text
    before = [a["credits"] for a in emu.control.state()["paykit"]["accounts"] if a["userId"] == "capped"]
    for i in range(60):
        assert post(emu, "/api/v1/meter", {"userId": "capped", "event": f"e{i}"}, PAYKIT).status_code == 200
    state = emu.control.state()["paykit"]
    kept = [row["name"] for row in state["usage"]]
    assert within_cap(len(kept), LIMITS.ledger)
    assert kept == [f"e{i}" for i in range(60 - len(kept), 60)]  # the newest, in order
    assert state["evicted"] == {"usage": 61 - len(kept), "events": 0, "checkouts": 0}  # the grant went too
    # The balance is the account's, not the log's: all 60 meters counted.
    assert [a["credits"] for a in state["accounts"] if a["userId"] == "capped"] == [before[0] - 60]


def test_paykit_event_log_never_drops_an_event_still_due() -> None:
    state = PayKitState(limits=LIMITS)
    snapshot = StripeSnapshot(object="invoice", metadata={})

    def event(i: int) -> StripeEvent:
        return StripeEvent(id=f"evt_{i:03d}", type="invoice.paid", project_id="default", created=START, data=snapshot,
                           url="http://127.0.0.1/hook", next_attempt_at=START)

    for i in range(40):
        state.record_event(event(i))
        if i != 5:  # every event but one was delivered
            state.events[f"evt_{i:03d}"].status = "succeeded"
            state.pending.pop(f"evt_{i:03d}")
    assert "evt_005" in state.events and within_cap(len(state.events), LIMITS.events) is False
    # Eviction stops at the pending event: the ones before it went, it and everything after stayed.
    assert list(state.events) == [f"evt_{i:03d}" for i in range(5, 40)]
    assert state.evicted == {"events": 5}
    state.events["evt_005"].status = "failed"
    state.pending.pop("evt_005")
    state.record_event(event(40))
    assert within_cap(len(state.events), LIMITS.events) and list(state.events)[-1] == "evt_040"
    assert state.evicted["events"] == 41 - len(state.events)


def test_paywalls_ledger_and_events_keep_the_newest(emu: ThreadedEmulator) -> None:
    for i in range(40):
        resp = post(emu, "/v1/user/balance/deposit", {"user": "capped", "amount": str(i + 1)}, PAYWALLS)
        assert resp.status_code == 200, resp.text
    state = emu.control.state()["paywalls-ai"]
    amounts = [int(row["amount"]) // 10**18 for row in state["ledger"] if row["user"] == "capped"]
    assert within_cap(len(state["ledger"]), LIMITS.ledger)
    assert amounts == list(range(41 - len(amounts), 41))
    assert within_cap(len(state["events"]), LIMITS.events)
    assert state["evicted"]["ledger"] >= 40 - len(state["ledger"])
    assert state["evicted"]["events"] > 0
    balance = requests.get(f"{emu.base_url}/v1/user/balance?user=capped", headers=PAYWALLS, timeout=10)
    assert balance.json()["balance"] == str(sum(range(1, 41)) * 10**18)  # every deposit counted


def test_paywalls_events_a_pending_delivery_waits_on_stay() -> None:
    state = PaywallsState(limits=LIMITS)
    for i in range(40):
        event = Event(id=f"evt_{i:06d}", paywall_id="p", owner_user_id="o", type="t", created_at=START, source="api",
                      actor_type="a", actor_id="a", subject_type="s", subject_id="s", external_id=None, facts={})
        state.deliveries[f"dly_{i:06d}"] = Delivery(id=f"dly_{i:06d}", subscription_id="sub", event_id=event.id,
                                                    event_type="t", status="pending" if i == 3 else "succeeded",
                                                    created_at=START, updated_at=START, next_attempt_at=None)
        if i == 3:
            state.pending.add(f"dly_{i:06d}")
        state.record_event(event)
    assert state.events[0].id == "evt_000003"  # the three before it went, with their deliveries
    assert next(iter(state.deliveries)) == "dly_000003"
    assert state.evicted == {"events": 3, "deliveries": 3}
    assert state.events_by_id == {event.id: event for event in state.events}  # the index lost the same three
    assert PaywallsState(events=state.events).events_by_id == state.events_by_id  # and is rebuilt on construction


def test_paywalls_idempotency_records_go_once_expired(emu: ThreadedEmulator) -> None:
    headers = {**PAYWALLS, "Idempotency-Key": "first-key"}
    assert post(emu, "/v1/user/balance/deposit", {"user": "idem", "amount": "1"}, headers).status_code == 200
    assert post(emu, "/v1/user/balance/deposit", {"user": "idem", "amount": "2"}, headers).status_code == 409

    def keys() -> list[str]:
        return [slot[2] for slot in emu.world.states["paywalls-ai"].idempotency]

    assert emu.call(keys) == ["first-key"]
    emu.control.clock.advance(seconds=int(timedelta(hours=25).total_seconds()))
    later = {**PAYWALLS, "Idempotency-Key": "later-key"}
    assert post(emu, "/v1/user/balance/deposit", {"user": "idem", "amount": "3"}, later).status_code == 200
    assert emu.call(keys) == ["later-key"]  # the expired record went as the new one came
    assert post(emu, "/v1/user/balance/deposit", {"user": "idem", "amount": "2"}, headers).status_code == 200


def test_paykit_expired_checkouts_keep_the_newest_and_paid_ones_stay(emu: ThreadedEmulator) -> None:
    def start(user: str) -> str:
        resp = post(emu, "/api/v1/checkout", {"userId": user, "kind": "credits"}, PAYKIT)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["url"]).rsplit("/", 1)[1]

    sessions = [start(f"buyer{i}") for i in range(30)]
    paid = requests.post(f"{emu.base_url}/_emulator/paykit/checkout/{sessions[0]}/complete", timeout=10)
    assert paid.status_code == 200, paid.text
    emu.control.clock.advance(days=2)  # the other 29 expire, in the order they were started
    state = emu.control.state()["paykit"]
    evicted = state["evicted"]["checkouts"]
    assert within_cap(29 - evicted, LIMITS.checkouts)
    kept = {c["id"]: c["status"] for c in state["checkoutSessions"]}
    assert list(kept) == [sessions[0], *sessions[1 + evicted:]]  # the paid one, then the newest expired
    assert kept[sessions[0]] == "complete" and set(list(kept.values())[1:]) == {"expired"}
    page = requests.get(f"{emu.base_url}/_emulator/paykit/checkout/{sessions[1]}", timeout=10)
    assert page.status_code == 404  # an evicted session's page is gone; the account keeps its pack
    granted = [a["credits"] for a in state["accounts"] if a["userId"] == "buyer0"]
    assert granted == [5 + 100]
