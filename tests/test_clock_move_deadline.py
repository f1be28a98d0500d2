"""A clock move with receivers that never answer: every attempt falling due on the way is recorded at
its own instant (timeouts, retries on schedule, `failed` at the end), answering endpoints are served as
usual, and the move waits one shared deadline instead of one timeout per attempt. Uses its own emulator
with a short `webhook_timeout` and a frozen clock; asserts on recorded attempts, never on durations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ThreadedEmulator

from .test_webhooks import ALICE_SUB, ERIN_SUB, SECRET, Receiver, deliveries, emit, register, when

START = datetime(2030, 1, 1, tzinfo=UTC)
# Offsets of the six attempts from the first (README, "Webhooks").
SCHEDULE = [timedelta(0), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=6)]


@pytest.fixture(scope="module")
def quick_emulator() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig(strict_responses=True, webhook_timeout=0.3, start_time=START)) as emu:
        yield emu


@pytest.fixture
def emu(quick_emulator: ThreadedEmulator) -> ThreadedEmulator:
    quick_emulator.control.reset()
    return quick_emulator


def _hanging() -> Receiver:
    return Receiver(hold=lambda r: True)


def _timed_out_on_schedule(delivery: dict[str, Any], first: datetime) -> None:
    assert delivery["status"] == "failed"
    assert [when(a["at"]) for a in delivery["attempts"]] == [first + offset for offset in SCHEDULE]
    assert all(a["status_code"] is None and a["error"].startswith("timeout") for a in delivery["attempts"])


def test_a_day_with_a_hanging_receiver_plays_its_whole_schedule(emu: ThreadedEmulator) -> None:
    with _hanging() as slow, Receiver() as fast:
        slow_endpoint = register(emu.control, slow.url, secret=SECRET)
        fast_endpoint = register(emu.control, fast.url, secret=SECRET)
        first, second, other = emit(emu, ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ALICE_SUB),
                                    ("subscription.updated", ERIN_SUB))
        move = emu.control.clock.advance(days=1)
        slow.release()
        # Only first attempts were waited for (until the move's one deadline); the endpoint then counted
        # as silent for the rest of the move, so its later attempts were recorded without being sent.
        assert set(slow.ids()) <= {first, other} and len(slow.ids()) <= 2
    assert when(move["now"]) == START + timedelta(days=1)
    by_event = {d["event_id"]: d for d in deliveries(emu.control, endpoint_id=slow_endpoint["id"])}
    _timed_out_on_schedule(by_event[first], START)
    _timed_out_on_schedule(by_event[other], START)
    # Alice's later event waited for her first one to fail for good, then played its own schedule.
    _timed_out_on_schedule(by_event[second], START + SCHEDULE[-1])
    answered = deliveries(emu.control, endpoint_id=fast_endpoint["id"])
    assert sorted(d["event_id"] for d in answered) == sorted([first, second, other])
    for delivery in answered:
        assert delivery["status"] == "succeeded"
        assert [(when(a["at"]), a["status_code"]) for a in delivery["attempts"]] == [(START, 200)]
    # The move reports every attempt it made, in time order, each at its own instant.
    attempts = [t for t in move["transitions"] if t["type"] == "webhook.attempt"]
    assert [when(t["at"]) for t in attempts] == sorted(when(t["at"]) for t in attempts)
    slow_attempts = [t for t in attempts if t["endpoint_id"] == slow_endpoint["id"]]
    assert len(slow_attempts) == 3 * len(SCHEDULE)
    assert all(t["status_code"] is None and t["error"].startswith("timeout") for t in slow_attempts)


def test_four_hanging_receivers_each_get_every_attempt(emu: ThreadedEmulator) -> None:
    with ExitStack() as stack:
        receivers = [stack.enter_context(_hanging()) for _ in range(4)]
        endpoints = [register(emu.control, r.url, secret=SECRET)["id"] for r in receivers]
        [event] = emit(emu, ("subscription.updated", ERIN_SUB))
        emu.control.clock.advance(days=1)
        for receiver in receivers:
            receiver.release()
            assert set(receiver.ids()) <= {event} and len(receiver.ids()) <= 1
    found = deliveries(emu.control, event_id=event)
    assert sorted(d["endpoint_id"] for d in found) == sorted(endpoints)
    for delivery in found:
        _timed_out_on_schedule(delivery, START)


def test_a_receiver_answering_after_the_deadline_is_retried_and_then_succeeds(emu: ThreadedEmulator) -> None:
    # Held on its first attempt only: cut at the move's deadline; within the same move the endpoint
    # counts as silent, so the next move's attempt is the first one it answers.
    with Receiver(hold=lambda r: r.attempt == 1) as receiver:
        register(emu.control, receiver.url, secret=SECRET)
        [event] = emit(emu, ("subscription.updated", ERIN_SUB))
        emu.control.clock.advance(seconds=30)
        receiver.release()
        emu.control.clock.advance(seconds=60)
        receiver.wait_for(2)
    [delivery] = deliveries(emu.control, event_id=event)
    assert delivery["status"] == "succeeded"
    assert [(when(a["at"]), a["status_code"]) for a in delivery["attempts"]] == [
        (START, None), (START + timedelta(minutes=1), 200)]
