"""`World.catch_up` remembers until when the world is quiet, so a request's catch-up is one comparison;
a reset, a seed load or a new source makes it ask every source again, a write the sources of its product."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from paywall_emulator.app import bundled_products
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.clock import EmulatorClock
from paywall_emulator.engine.world import World
from paywall_emulator.products.monetize.state import Store
from paywall_emulator.testing import ThreadedEmulator

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


class _Spy:
    """A foreground source with one piece of work at `at`, counting how often it is asked."""

    background = False

    def __init__(self, at: datetime) -> None:
        self.at: datetime | None = at
        self.asked = 0

    def next_due(self, store: Store) -> datetime | None:
        self.asked += 1
        return self.at

    async def run_due(self, store: Store, at: datetime) -> list[dict[str, Any]]:
        self.at = None
        return [{"type": "spy.ran", "at": at.isoformat()}]


def _world() -> tuple[World, _Spy]:
    world = World.create(EmulatorConfig(start_time=T0), bundled_products())
    spy = _Spy(T0 + timedelta(hours=1))
    world.sources[:] = [("monetize", spy)]
    world.changed()
    return world, spy


def _two_products() -> tuple[World, _Spy, _Spy]:
    """A world whose monetize work is due in 1 h and Paywalls.ai's in 2 h, caught up (both remembered)."""
    world, spy = _world()
    other = _Spy(T0 + timedelta(hours=2))
    world.sources.append(("paywalls-ai", other))
    world.changed()
    asyncio.run(world.catch_up())
    return world, spy, other


def test_a_quiet_world_asks_no_source_until_work_is_due() -> None:
    world, spy = _world()
    assert asyncio.run(world.catch_up()) == []
    asked = spy.asked
    assert asyncio.run(world.catch_up()) == [] and spy.asked == asked  # remembered: nothing asked
    world.clock.set(T0 + timedelta(hours=1))
    assert asyncio.run(world.catch_up()) == [{"type": "spy.ran", "at": (T0 + timedelta(hours=1)).isoformat()}]


def test_a_change_or_a_new_source_makes_it_ask_again() -> None:
    world, spy = _world()
    asyncio.run(world.catch_up())
    asked = spy.asked
    world.changed()
    asyncio.run(world.catch_up())
    assert spy.asked > asked
    asked = spy.asked
    world.add_source("monetize", _Spy(T0 + timedelta(days=1)))
    asyncio.run(world.catch_up())
    assert spy.asked > asked
    asked = spy.asked
    world.reset()
    world.sources[:] = [("monetize", spy)]
    asyncio.run(world.catch_up())
    assert spy.asked > asked


def test_a_change_to_one_product_asks_only_its_sources_again() -> None:
    world, spy, other = _two_products()
    asked, other_asked = spy.asked, other.asked
    world.states["monetize"].due_filed += 1  # the write filed work (a checkout, a period end)
    world.changed("monetize")
    assert asyncio.run(world.catch_up()) == []
    assert spy.asked > asked and other.asked == other_asked  # the other product's next instant still holds
    world.clock.set(T0 + timedelta(hours=2))  # both due now, each run at its own instant, in order
    assert asyncio.run(world.catch_up()) == [{"type": "spy.ran", "at": (T0 + timedelta(hours=h)).isoformat()}
                                             for h in (1, 2)]
    world.changed("monetize")
    assert asyncio.run(world.catch_up()) == []


def test_a_write_that_filed_no_work_keeps_the_remembered_instant_of_a_product_with_a_stamp() -> None:
    """monetize stamps what it files (`due_filed`): a write that filed nothing (a balance change) keeps
    what its sources answered last, without asking them; one that filed work asks them again. Paywalls.ai
    has no stamp: every write through it asks its sources again."""
    world, spy, other = _two_products()
    asked, other_asked = spy.asked, other.asked
    world.changed("monetize")
    assert asyncio.run(world.catch_up()) == [] and spy.asked == asked
    world.changed("paywalls-ai")
    assert asyncio.run(world.catch_up()) == [] and spy.asked == asked and other.asked > other_asked
    spy.at = T0 + timedelta(minutes=30)  # work filed earlier than what was remembered
    world.states["monetize"].due_filed += 1
    world.changed("monetize")
    world.clock.set(T0 + timedelta(minutes=30))
    assert asyncio.run(world.catch_up()) == [{"type": "spy.ran", "at": (T0 + timedelta(minutes=30)).isoformat()}]


def test_writes_that_file_work_are_seen_after_writes_that_file_none() -> None:
    """Balance changes (nothing filed) before and after each checkout: every checkout still expires 24 h
    after it was started when the clock jumps past them all directly (no control call in between)."""
    with ThreadedEmulator(EmulatorConfig(start_time=T0)) as emu:
        headers = {"X-Api-Key": emu.api_key}
        credit = {"email": "alice@example.com", "type": "standard", "amount": 1, "op": "credit"}
        started = []
        for hour in range(3):
            emu.call(lambda h=hour: emu.world.clock.set(T0 + timedelta(hours=h)))
            for _ in range(2):
                resp = requests.post(emu.url("/api/v1/paywall/15/balances"), json=credit, headers=headers,
                                     timeout=10)
                assert resp.status_code == 200
            resp = requests.post(emu.url("/api/v1/paywall/3/start-checkout"), headers=headers, timeout=10,
                                 json={"email": f"buyer{hour}@example.com", "priceId": "102"})
            assert resp.status_code == 200, resp.text
            started.append(emu.control.checkout_session_id(resp.json()))
            resp = requests.post(emu.url("/api/v1/paywall/15/balances"), json=credit, headers=headers, timeout=10)
            assert resp.status_code == 200
        emu.call(lambda: emu.world.clock.set(T0 + timedelta(hours=24, minutes=30)))
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=10).status_code == 200
        checkouts = {c["id"]: c["status"] for c in emu.control.state()["monetize"]["checkouts"]}
        assert [checkouts[s] for s in started] == ["expired", "open", "open"]
        emu.call(lambda: emu.world.clock.set(T0 + timedelta(hours=26, minutes=30)))
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=10).status_code == 200
        checkouts = {c["id"]: c["status"] for c in emu.control.state()["monetize"]["checkouts"]}
        assert [checkouts[s] for s in started] == ["expired"] * 3


def test_a_write_that_files_a_period_end_earlier_than_any_known_is_seen() -> None:
    """Carol's renewal fails now (a control write): her retry, 3 days on, is due before anything the
    scheduler knew of (Erin's period end, about 5 days on); a balance change after it files nothing. The
    retry runs when the clock jumps to it directly."""
    carol = "sub_01hseedcarol00000000000001"
    start = datetime(2026, 5, 10, 12, tzinfo=UTC)  # Erin's period ends 5 days on (from T0, only 3)
    with ThreadedEmulator(EmulatorConfig(start_time=start)) as emu:
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=10).status_code == 200  # quiet now
        emu.control.fail_next_renewal(carol)
        emu.control.renew_subscription(carol)
        resp = requests.post(emu.url("/api/v1/paywall/15/balances"), headers={"X-Api-Key": emu.api_key},
                             timeout=10, json={"email": "alice@example.com", "type": "standard", "amount": 1,
                                               "op": "credit"})
        assert resp.status_code == 200

        def status() -> str:
            [sub] = [s for s in emu.control.state()["monetize"]["subscriptions"] if s["id"] == carol]
            return str(sub["status"])

        assert status() == "past_due"
        emu.call(lambda: emu.world.clock.set(start + timedelta(days=3, hours=1)))
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=10).status_code == 200
        assert status() == "active"  # the retry ran and was paid


def test_paykit_sessions_started_between_meters_expire_when_the_clock_jumps_past_them() -> None:
    """PayKit stamps what it files too: meters (nothing filed) around a new checkout session keep nothing
    stale; the session expires 24 h after it was started, the clock jumping there directly."""
    with ThreadedEmulator(EmulatorConfig(start_time=T0)) as emu:
        api = f"{emu.base_url}/api/v1"
        headers = {"x-paykit-key": "sk_live_demo"}
        assert requests.post(f"{api}/credits", json={"userId": "jo", "amount": 10}, headers=headers,
                             timeout=10).status_code == 200
        assert requests.post(f"{api}/meter", json={"userId": "jo", "event": "e"}, headers=headers,
                             timeout=10).status_code == 200
        session = requests.post(f"{api}/checkout", json={"userId": "jo", "kind": "credits"}, headers=headers,
                                timeout=10)
        assert session.status_code == 200, session.text
        assert requests.post(f"{api}/meter", json={"userId": "jo", "event": "e"}, headers=headers,
                             timeout=10).status_code == 200

        def statuses() -> list[str]:
            return [str(c["status"]) for c in emu.control.state()["paykit"]["checkoutSessions"]]

        assert statuses() == ["open"]
        emu.call(lambda: emu.world.clock.set(T0 + timedelta(hours=25)))
        assert requests.get(f"{api}/access", params={"userId": "jo"}, headers=headers, timeout=10).status_code == 200
        assert statuses() == ["expired"]


def test_work_scheduled_by_a_write_is_run_when_due() -> None:
    """A checkout started after a read expires 24 h later even when the clock jumps there directly
    (as freezegun's does), with no control call to drive the catch-up."""
    with ThreadedEmulator(EmulatorConfig(start_time=T0)) as emu:
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=10).status_code == 200  # quiet now
        resp = requests.post(emu.url("/api/v1/paywall/3/start-checkout"), timeout=10,
                             headers={"X-Api-Key": emu.api_key},
                             json={"email": "later@example.com", "priceId": "102"})
        assert resp.status_code == 200, resp.text
        session = emu.control.checkout_session_id(resp.json())
        emu.call(lambda: emu.world.clock.set(T0 + timedelta(hours=25)))
        assert requests.get(emu.url("/api/v1/paywall/3/bootstrap"), timeout=10).status_code == 200
        [row] = [c for c in emu.control.state()["monetize"]["checkouts"] if c["id"] == session]
        assert row["status"] == "expired"


class _Many:
    """A product's source with work every minute for 200 minutes: a catch-up over them yields on the way."""

    background = False

    def next_due(self, state: dict[str, Any]) -> datetime | None:
        return state["due"][0] if state["due"] else None

    async def run_due(self, state: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
        state["due"].pop(0)
        return []


class _Expiries:
    """A product's source of expiries (checkout-like), recording those it ran."""

    background = False

    def next_due(self, state: dict[str, Any]) -> datetime | None:
        return min(state["expiries"], default=None)

    async def run_due(self, state: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
        state["expiries"].remove(at)
        state["ran"].append(at)
        return []


@pytest.mark.parametrize(("stamped", "later_write"), [(True, True), (True, False), (False, False)])
def test_work_filed_while_a_long_catch_up_yields_is_not_forgotten(stamped: bool, later_write: bool) -> None:
    """A catch-up running 200 due instants of one product lets other requests run on the way; a write to
    a second product meanwhile files an expiry. That product's old instant (nothing due) must not be
    remembered afterwards, with or without a `due_stamp`, whether only reads follow or also a write that
    files nothing (which keeps a stamped product's remembered instant)."""
    many = SimpleNamespace(name="many", due_stamp=None)
    other = SimpleNamespace(name="other", due_stamp=(lambda state: state["filed"]) if stamped else None)
    clock = EmulatorClock(frozen_at=T0)
    world = World(config=EmulatorConfig(), clock=clock, products=(many, other),  # type: ignore[arg-type]
                  initial={}, document={})
    world.states = {"many": {"due": [T0 + timedelta(minutes=i) for i in range(1, 201)]},
                    "other": {"expiries": [], "filed": 0, "ran": []}}
    world.sources = [("many", _Many()), ("other", _Expiries())]  # type: ignore[list-item]

    async def scenario() -> list[datetime]:
        await world.catch_up()  # remembered: "other" has nothing due
        clock.set(T0 + timedelta(hours=4))  # a jump, as freezegun's: the next catch-up runs 200 instants
        long = asyncio.create_task(world.catch_up())
        await asyncio.sleep(0)
        while not long.done():
            if not world.states["other"]["filed"]:  # a request on "other" while the long one yields
                world.states["other"]["expiries"].append(clock.now() + timedelta(days=1))
                world.states["other"]["filed"] += 1
                world.changed("other")
            await asyncio.sleep(0)
        await long
        if later_write:
            world.changed("other")  # a later write that files nothing
        clock.set(T0 + timedelta(days=3))
        await world.catch_up()
        ran: list[datetime] = world.states["other"]["ran"]
        return ran

    assert asyncio.run(scenario()) == [T0 + timedelta(days=1, hours=4)]
