"""A Hypothesis state machine comparing one user's balances with a simple model under random credits,
debits, gateway calls (charged, free, failing upstream; platform and integrator ids) and clock moves,
on the America/New_York paywall. The model: a top-up raises every type to its daily limit at the first
touch after a local midnight; a credit adds; a debit or a charged call subtracts when it fits and changes
nothing otherwise; a failed upstream and the `free` type change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import (
    BOB,
    CHAT,
    NY_ADVANCED,
    NY_FAIL,
    NY_FREE,
    NY_PW,
    NY_STANDARD,
    adjust,
    balances,
    freeze,
    gateway,
    parse,
    seconds_to_midnight,
    seeded,
    token_seed,
)

ZONE = "America/New_York"
LIMITS = {"standard": 3, "advanced": 1, "free": 0}  # paywall 16's daily-trial allowances
PROVIDERS = {"standard": NY_STANDARD, "advanced": NY_ADVANCED, "free": NY_FREE, "failing": NY_FAIL}
CHARGED = {"standard": "standard", "advanced": "advanced", "free": "free", "failing": "standard"}
TYPES = st.sampled_from(sorted(LIMITS))


class TokenMachine(RuleBasedStateMachine):
    emu: ThreadedEmulator  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        control = self.emu.control
        reset_at = parse(control.reset()["now"])
        self.day = reset_at.astimezone(ZoneInfo(ZONE)).date()  # the seed's balances are "topped up" that day
        self.now: datetime = freeze(control)
        self.counts = {"standard": 0, "advanced": 0, "free": 0}  # bob on paywall 16, as seeded
        self.session = requests.Session()
        self.base = self.emu.base_url

    def top_up(self) -> None:
        day = self.now.astimezone(ZoneInfo(ZONE)).date()
        if day > self.day:
            self.counts = {t: max(c, LIMITS[t]) for t, c in self.counts.items()}
            self.day = day

    @rule(type_name=TYPES, amount=st.integers(1, 4))
    def credit(self, type_name: str, amount: int) -> None:
        self.top_up()
        resp = adjust(self.base, type_name, amount, "credit", paywall=NY_PW, session=self.session)
        self.counts[type_name] += amount
        assert (resp.status_code, resp.json()["count"]) == (200, self.counts[type_name])

    @rule(type_name=TYPES, amount=st.integers(1, 4))
    def debit(self, type_name: str, amount: int) -> None:
        self.top_up()
        resp = adjust(self.base, type_name, amount, "debit", paywall=NY_PW, session=self.session)
        if self.counts[type_name] >= amount:
            self.counts[type_name] -= amount
            assert (resp.status_code, resp.json()["count"]) == (200, self.counts[type_name])
        else:
            body = resp.json()
            assert (resp.status_code, body["code"], body["available"]) == (400, "insufficient",
                                                                           self.counts[type_name])

    @rule(kind=st.sampled_from(sorted(PROVIDERS)), user=st.sampled_from([BOB, "ext_bob_ny"]))
    def call_gateway(self, kind: str, user: str) -> None:
        self.top_up()
        charged = CHARGED[kind]
        resp = self.session.post(gateway(self.base, PROVIDERS[kind], "v1/chat/completions", paywall=NY_PW),
                                 json=CHAT, headers={"X-User-ID": user}, timeout=30)
        if kind != "free" and self.counts[charged] < 1:
            assert resp.status_code == 402
            assert resp.json()["details"]["currentBalance"] == {"type": charged, "count": self.counts[charged]}
        elif kind == "failing":
            assert resp.status_code == 503  # passed through, refunded
        else:
            assert resp.status_code == 200
            assert resp.headers["X-Query-Type"] == charged
            if kind != "free":
                self.counts[charged] -= 1

    @rule(seconds=st.one_of(st.integers(0, 3600), st.integers(3600, 2 * 86400)))
    def advance(self, seconds: int) -> None:
        self.emu.control.clock.advance(seconds=seconds)
        self.now += timedelta(seconds=seconds)

    @rule(offset=st.integers(-2, 2))
    def advance_around_midnight(self, offset: int) -> None:
        seconds = max(0.0, seconds_to_midnight(self.now, ZONE) + offset)
        self.emu.control.clock.advance(seconds=seconds)
        self.now += timedelta(seconds=seconds)

    @invariant()
    def balances_match_the_model(self) -> None:
        self.top_up()  # a read applies the due top-up, like every other touch
        assert balances(self.base, paywall=NY_PW, session=self.session) == self.counts

    def teardown(self) -> None:
        self.session.close()


def test_balances_follow_the_model(emu: ThreadedEmulator) -> None:
    TokenMachine.emu = emu
    with seeded(emu, token_seed()):
        run_state_machine_as_test(TokenMachine, settings=settings(
            max_examples=20, stateful_step_count=15, deadline=None, database=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow]))
