"""The emulator clock: `EmulatorClock` itself (frozen or following wall time, never backwards,
moved by freezegun/time-machine, in a subprocess because they patch the whole process) and the
control API's get/set/advance, on an emulator of its own (setting the clock freezes it, which the
shared emulator must not inherit)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import time_machine
from freezegun import freeze_time

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.clock import ClockBackwardsError, EmulatorClock
from paywall_emulator.testing import ControlError, ThreadedEmulator

T0 = datetime(2031, 3, 1, 9, 30, tzinfo=UTC)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- EmulatorClock ----------------------------------------------------------------------------------


def test_a_frozen_clock_stands_still_and_moves_only_forward() -> None:
    clock = EmulatorClock(frozen_at=T0)
    assert clock.frozen and clock.now() == T0 == clock.now()
    assert clock.advance(timedelta(hours=2)) == T0 + timedelta(hours=2)
    assert clock.set(T0 + timedelta(days=1)) == T0 + timedelta(days=1)
    with pytest.raises(ClockBackwardsError):
        clock.set(T0)
    with pytest.raises(ClockBackwardsError):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == T0 + timedelta(days=1)


def test_a_naive_start_is_taken_as_utc() -> None:
    clock = EmulatorClock(frozen_at=datetime(2031, 3, 1, 9, 30))
    assert clock.now() == T0 and clock.now().tzinfo is not None


def test_a_running_clock_follows_patched_wall_time() -> None:
    # freezegun and time-machine patch time for the whole process: the session emulator's loop thread
    # would see it (its clock's high-water mark jumps, freezegun's monotonic swap stalls its timers),
    # so these run in their own interpreter.
    done = subprocess.run([sys.executable, "-m", "tests.test_clock"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "wall-time scenarios passed"


def follows_freezegun() -> None:
    with freeze_time(T0) as frozen:
        clock = EmulatorClock()
        assert not clock.frozen and clock.now() == T0
        frozen.tick(timedelta(minutes=5))
        assert clock.now() == T0 + timedelta(minutes=5)
        clock.advance(timedelta(days=1))  # an offset on top of wall time
        frozen.tick(timedelta(seconds=1))
        assert clock.now() == T0 + timedelta(days=1, minutes=5, seconds=1)


def never_goes_back_with_the_wall() -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        clock = EmulatorClock()
        assert clock.now() == T0
        traveller.move_to(T0 - timedelta(hours=1))
        assert clock.now() == T0  # waits for the wall to catch up
        traveller.move_to(T0 + timedelta(seconds=3))
        assert clock.now() == T0 + timedelta(seconds=3)


def unfreeze_continues_from_the_frozen_instant() -> None:
    with freeze_time(datetime(2020, 1, 1, tzinfo=UTC)) as frozen:
        clock = EmulatorClock(frozen_at=T0)
        clock.unfreeze()
        assert not clock.frozen and clock.now() == T0
        frozen.tick(timedelta(seconds=10))
        assert clock.now() == T0 + timedelta(seconds=10)


# --- the control API --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig()) as emu:
        yield emu


def post(emu: ThreadedEmulator, path: str, body: object) -> requests.Response:
    return requests.post(f"{emu.base_url}/_emulator{path}", json=body, timeout=30)


def test_get_clock(own: ThreadedEmulator) -> None:
    clock = own.control.request("GET", "/clock")
    assert set(clock) >= {"now", "frozen"}
    assert parse(clock["now"]).tzinfo is not None


def test_set_freezes_and_refuses_to_go_back(own: ThreadedEmulator) -> None:
    now = own.control.clock.now()
    target = now + timedelta(days=3)
    answer = own.control.request("POST", "/clock", {"now": target.isoformat()})
    assert answer == {**answer, "frozen": True} and parse(answer["now"]) == target
    assert own.control.clock.now() == target  # frozen: it stays there
    before = own.control.state()
    resp = post(own, "/clock", {"now": (target - timedelta(seconds=1)).isoformat()})
    assert resp.status_code == 409 and resp.json()["code"] == "clock_backwards"
    assert own.control.clock.now() == target and own.control.state() == before
    # Setting the very same instant is not going back.
    assert own.control.clock.set(target.isoformat()) == target


def test_set_with_frozen_false_keeps_running(own: ThreadedEmulator) -> None:
    target = own.control.clock.now() + timedelta(days=1)
    answer = post(own, "/clock", {"now": target.isoformat().replace("+00:00", "Z"), "frozen": False}).json()
    assert answer["frozen"] is False and parse(answer["now"]) >= target


@pytest.mark.parametrize("value", ["tomorrow", "2031-13-01T00:00:00Z", "2031-03-01", "2031-03-01T09:30:00", 42])
def test_set_refuses_what_is_not_an_instant(own: ThreadedEmulator, value: object) -> None:
    before = own.control.clock.now()
    resp = post(own, "/clock", {"now": value})
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert own.control.clock.now() >= before


def test_advance_by_seconds_and_days(own: ThreadedEmulator) -> None:
    own.control.clock.freeze()
    answer = own.control.clock.advance(seconds=90)
    assert parse(answer["now"]) - parse(answer["previous"]) == timedelta(seconds=90)
    assert {"transitions", "events"} <= set(answer)
    answer = own.control.clock.advance(days=2, seconds=30)
    assert parse(answer["now"]) - parse(answer["previous"]) == timedelta(days=2, seconds=30)
    assert own.control.clock.now() == parse(answer["now"])


@pytest.mark.parametrize("body", [{}, {"seconds": -1}, {"days": -0.5}, {"days": 40000}, {"seconds": "60"},
                                  {"minutes": 5}])
def test_advance_refusals_leave_the_clock(own: ThreadedEmulator, body: dict[str, object]) -> None:
    own.control.clock.freeze()
    before = own.control.clock.now()
    with pytest.raises(ControlError) as info:
        own.control.request("POST", "/clock/advance", body)
    assert info.value.status == 400 and info.value.body["code"] == "invalid_request"
    assert own.control.clock.now() == before


def test_reset_restarts_the_clock_and_reseeds_relative_to_it(own: ThreadedEmulator) -> None:
    before = own.control.clock.now()
    target = before + timedelta(days=400)
    own.control.clock.set(target.isoformat())
    own.control.reset()
    now = own.control.clock.now()
    assert not own.control.clock.frozen
    assert now < target  # a new timeline, back on wall time
    [alice] = [s for s in own.control.state()["monetize"]["subscriptions"] if s["id"] == "sub_seedAlicePro000000000001"]
    assert parse(alice["current_period_start"]) <= now < parse(alice["current_period_end"])


def test_advance_keeps_a_running_clock_running() -> None:
    with ThreadedEmulator(EmulatorConfig()) as emu:
        assert not emu.control.clock.frozen
        answer = emu.control.clock.advance(days=1)
        assert parse(answer["now"]) - parse(answer["previous"]) >= timedelta(days=1)
        assert not emu.control.clock.frozen


def test_advancing_a_running_clock_by_nothing_never_fails() -> None:
    # Wall time passes between reading the clock and moving it; that must not look like going back.
    with ThreadedEmulator(EmulatorConfig()) as emu:
        for _ in range(20):
            answer = emu.control.clock.advance(days=0, seconds=0)
            assert parse(answer["now"]) >= parse(answer["previous"])


if __name__ == "__main__":
    follows_freezegun()
    never_goes_back_with_the_wall()
    unfreeze_continues_from_the_frozen_instant()
    print("wall-time scenarios passed")


@pytest.mark.parametrize("ahead", [timedelta(days=36526), timedelta(days=3_000_000)])
def test_set_refuses_a_jump_beyond_a_hundred_years(own: ThreadedEmulator, ahead: timedelta) -> None:
    now = own.control.clock.now()
    target = (now + ahead).isoformat() if ahead.days < 2_000_000 else "9999-12-31T23:59:59Z"
    before = own.control.state()
    resp = post(own, "/clock", {"now": target})
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert own.control.clock.now() < now + timedelta(minutes=5) and own.control.state() == before


def test_the_clock_stays_before_the_year_9000() -> None:
    with ThreadedEmulator(EmulatorConfig(start_time=datetime(8950, 1, 1, tzinfo=UTC))) as emu:
        resp = post(emu, "/clock/advance", {"days": 36500})
        assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
        assert emu.control.clock.now().date().isoformat() == "8950-01-01"
        answer = emu.control.clock.advance(days=365)  # renewals due on the way still fit
        assert answer["now"].startswith("8951-01-01")


class _BrokenSource:
    """A due source that always fails: what the world would look like if catch-up were broken."""

    background = False

    def next_due(self, store: object) -> datetime:
        return datetime(2000, 1, 1, tzinfo=UTC)

    async def run_due(self, store: object, at: datetime) -> list[dict[str, object]]:
        raise RuntimeError("broken due work")


def test_health_reset_and_seed_answer_even_when_catch_up_fails() -> None:
    with ThreadedEmulator(EmulatorConfig()) as emu:
        emu.call(lambda: emu.world.sources.append(_BrokenSource()))  # type: ignore[arg-type]
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=30).status_code == 500
        assert requests.get(emu.url("/_emulator/health"), timeout=30).status_code == 200
        assert post(emu, "/reset", {}).status_code == 200
        emu.call(lambda: emu.world.sources.pop())
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=30).status_code == 200


def test_a_move_lists_at_most_its_first_transitions_and_counts_the_rest() -> None:
    """A day in which 10,001 open checkouts expire: the answer lists the first 10,000 transitions in order
    and says how many it left out (a move answering every one of 100,000 was an 18 MB body)."""
    from paywall_emulator.engine.views import MOVE_LISTED
    from paywall_emulator.products.monetize.domain import checkout
    from paywall_emulator.products.monetize.state import store_of

    with ThreadedEmulator(EmulatorConfig(strict_responses=True)) as emu:
        def fill() -> None:
            store = store_of(emu.world)
            request = checkout.CheckoutRequest(price_id="102")
            for i in range(MOVE_LISTED + 1):
                email = f"many{i}@example.com"
                checkout.start(store, emu.world.now(), store.paywalls["3"], request, email=email,
                               bearer_user=None, origin="http://127.0.0.1", hosted=True, idempotency_key=None,
                               fingerprint=checkout.request_fingerprint("3", "acme", {"email": email}))
            emu.world.changed()

        emu.call(fill)
        move = emu.control.clock.advance(days=1)
        expired = [t for t in move["transitions"] if t["type"] == "checkout.expired"]
    assert len(move["transitions"]) == MOVE_LISTED and len(expired) == MOVE_LISTED
    assert move["omitted"] == {"transitions": 1, "events": 0}
    assert move["events"] == []  # an expired checkout emits no event: nothing of that list was left out
    with ThreadedEmulator(EmulatorConfig(strict_responses=True)) as fresh:  # an ordinary move lists it all
        ordinary = fresh.control.clock.advance(days=40)
    assert "omitted" not in ordinary and ordinary["transitions"]
