"""Atomic balances under concurrency: many connections debiting one balance at once (REST debits,
legacy withdrawals and gateway calls mixed) never lose an update, never debit partially, and let
exactly as many calls through as there were tokens. Bounded to 50 client threads (shared CPUs)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import ACME_KEY, BOB, CHAT, STANDARD, adjust, balances, freeze, gateway, seeded, token_seed

CONNECTIONS = 50


@pytest.fixture
def tokens(emu: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    with seeded(emu, token_seed()):
        freeze(emu.control)  # no midnight top-up can land in the middle of the run
        yield emu


def run_concurrently(calls: list[Callable[[requests.Session], tuple[int, str]]]) -> list[tuple[int, str]]:
    """Run every call on a pool of CONNECTIONS threads, each with its own keep-alive session."""
    local = threading.local()

    def run(fn: Callable[[requests.Session], tuple[int, str]]) -> tuple[int, str]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return fn(session)

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        return list(pool.map(run, calls))


def test_1000_concurrent_debits_of_1_on_500_leave_exactly_0(tokens: ThreadedEmulator) -> None:
    base = tokens.base_url
    assert adjust(base, "standard", 500, "credit").json()["count"] == 500
    seen_counts: list[int] = []

    def debit(session: requests.Session) -> tuple[int, str]:
        resp = adjust(base, "standard", 1, "debit", session=session)
        body = resp.json()
        if resp.status_code == 200:
            seen_counts.append(body["count"])
            return 200, "ok"
        return resp.status_code, body["code"]

    results = Counter(run_concurrently([debit] * 1000))
    assert results == {(200, "ok"): 500, (400, "insufficient"): 500}
    assert sorted(seen_counts) == list(range(500))  # every success saw its own count: no lost update
    assert balances(base)["standard"] == 0


def test_gateway_calls_rest_debits_and_withdrawals_share_one_balance(tokens: ThreadedEmulator) -> None:
    base = tokens.base_url
    assert adjust(base, "standard", 200, "credit").json()["count"] == 200

    def via_gateway(session: requests.Session) -> tuple[int, str]:
        resp = session.post(gateway(base, STANDARD, "v1/chat/completions"), json=CHAT,
                            headers={"X-User-ID": BOB}, timeout=30)
        return resp.status_code, resp.headers.get("X-Query-Type") or resp.json()["code"]

    def via_rest(session: requests.Session) -> tuple[int, str]:
        resp = adjust(base, "standard", 1, "debit", session=session)
        return resp.status_code, "ok" if resp.status_code == 200 else resp.json()["code"]

    def via_withdraw(session: requests.Session) -> tuple[int, str]:
        resp = session.post(f"{base}/api/v1/withdraw-tokens", headers={"X-Api-Key": ACME_KEY}, timeout=30,
                            json={"paywall_id": "15", "user_id": BOB, "tokens": 1, "token_type": "standard"})
        return resp.status_code, "ok" if resp.status_code == 200 else resp.json()["code"]

    calls = [via_gateway, via_rest, via_withdraw] * 100
    results = Counter(run_concurrently(calls))
    successes = results[(200, "standard")] + results[(200, "ok")]
    refusals = results[(402, "not-enough-queries")] + results[(400, "insufficient")] + results[
        (400, "insufficient_tokens")]
    assert successes == 200
    assert successes + refusals == 300, results
    assert balances(base)["standard"] == 0
