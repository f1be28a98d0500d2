"""A receiver that does not answer in time: the attempt is recorded as a timeout and retried, and it
never holds up deliveries to other endpoints or of other subscriptions. Uses its own emulator with a
short `webhook_timeout`; waits are bounded, nothing asserts on durations.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ThreadedEmulator

from .test_webhooks import (
    ALICE_SUB,
    ERIN_SUB,
    SECRET,
    Received,
    Receiver,
    check_delivery,
    deliveries,
    emit,
    register,
    when,
)


@pytest.fixture(scope="module")
def quick_emulator() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig(strict_responses=True, webhook_timeout=0.3)) as emu:
        yield emu


@pytest.fixture
def emu(quick_emulator: ThreadedEmulator) -> ThreadedEmulator:
    quick_emulator.control.reset()
    return quick_emulator


def _subscription(received: Received) -> str:
    return str(received.event["data"]["subscription"]["id"])


def _wait_for_attempt(emu: ThreadedEmulator, event_id: str, endpoint_id: str) -> dict[str, Any]:
    for _ in range(400):
        [found] = deliveries(emu.control, event_id=event_id, endpoint_id=endpoint_id)
        if found["attempts"]:
            return found
        threading.Event().wait(0.05)
    raise AssertionError("the hanging attempt was never recorded")


def test_a_hanging_receiver_blocks_neither_other_endpoints_nor_other_subjects(emu: ThreadedEmulator) -> None:
    # The slow receiver holds the first attempt of Alice's event open until released.
    with Receiver(hold=lambda r: _subscription(r) == ALICE_SUB and r.attempt == 1) as slow, Receiver() as fast:
        slow_endpoint = register(emu.control, slow.url, secret=SECRET)
        fast_endpoint = register(emu.control, fast.url, secret=SECRET)
        stuck, other = emit(emu, ("subscription.updated", ALICE_SUB), ("subscription.updated", ERIN_SUB))
        # Both events reach the fast endpoint, and Erin's reaches the slow one, while Alice's is held.
        assert sorted(r.event_id for r in fast.wait_for(2)) == sorted([stuck, other])
        assert sorted(slow.wait_for(2)[i].event_id for i in range(2)) == sorted([stuck, other])

        timed_out = _wait_for_attempt(emu, stuck, slow_endpoint["id"])
        [attempt] = timed_out["attempts"]
        assert attempt["status_code"] is None and attempt["error"].startswith("timeout")
        assert timed_out["status"] == "pending"
        assert when(timed_out["next_attempt_at"]) - when(attempt["at"]) == timedelta(minutes=1)

        slow.release()
        emu.control.clock.advance(seconds=90)
        got = slow.wait_for(3)
        assert got[-1].event_id == stuck and got[-1].attempt == 2
        check_delivery(got[-1], SECRET)
    [done] = deliveries(emu.control, event_id=stuck, endpoint_id=slow_endpoint["id"])
    assert done["status"] == "succeeded" and [a["status_code"] for a in done["attempts"]] == [None, 200]
    assert all(d["status"] == "succeeded" for d in deliveries(emu.control, endpoint_id=fast_endpoint["id"]))


def test_later_events_of_a_hanging_subject_wait_for_it(emu: ThreadedEmulator) -> None:
    with Receiver(hold=lambda r: r.event["type"] == "subscription.updated" and r.attempt == 1) as receiver:
        register(emu.control, receiver.url)
        stuck, later = emit(emu, ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ALICE_SUB))
        receiver.wait_for(1)
        _wait_for_attempt(emu, stuck, deliveries(emu.control, event_id=stuck)[0]["endpoint_id"])
        [waiting] = deliveries(emu.control, event_id=later)
        assert waiting["attempts"] == [] and receiver.ids() == [stuck]
        receiver.release()
        emu.control.clock.advance(seconds=90)
        receiver.wait_for(3)
        assert receiver.ids() == [stuck, stuck, later]
