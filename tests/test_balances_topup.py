"""Balances over HTTP on the emulator clock (`/_emulator/clock/advance`): the daily-trial top-up at
day boundaries (UTC and America/New_York), the same result whichever of read/debit/dump comes first,
credits above the limit kept, new users starting with the trial allowance, and where the tokenization
config shows on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import (
    ACME_KEY,
    ALICE,
    BOB,
    CAROL,
    NY_PW,
    adjust,
    balances,
    freeze,
    seconds_to_midnight,
    seeded,
    token_seed,
)

EMPTY = {"standard": 0, "advanced": 0, "free": 0}
TRIAL = {"standard": 10, "advanced": 2, "free": 0}
NY_TRIAL = {"standard": 3, "advanced": 1, "free": 0}


@pytest.fixture
def tokens(emu: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    with seeded(emu, token_seed()):
        yield emu


def to_midnight(emu: ThreadedEmulator, timezone: str, *, offset: float) -> None:
    """Advance the (frozen) clock to `offset` seconds around the next local midnight of `timezone`."""
    now = emu.control.clock.now()
    emu.control.clock.advance(seconds=seconds_to_midnight(now, timezone) + offset)


def test_utc_top_up_at_midnight_with_advance(emu: ThreadedEmulator) -> None:
    freeze(emu.control)
    assert balances(emu.base_url) == EMPTY
    to_midnight(emu, "UTC", offset=-1)
    assert balances(emu.base_url) == EMPTY
    emu.control.clock.advance(seconds=2)
    assert balances(emu.base_url) == TRIAL


def test_the_top_up_is_the_same_whichever_comes_first(emu: ThreadedEmulator) -> None:
    freeze(emu.control)
    assert adjust(emu.base_url, "standard", 42, "debit", user_id=ALICE).json()["count"] == 0
    emu.control.mint_token("15", user_id=CAROL)  # a sign-in links carol with the trial allowance
    assert adjust(emu.base_url, "standard", 5, "credit", user_id=CAROL).json()["count"] == 15  # 10 + 5
    assert adjust(emu.base_url, "standard", 15, "debit", user_id=CAROL).json()["count"] == 0
    to_midnight(emu, "UTC", offset=30)
    # bob: a debit is the first touch of the day
    assert adjust(emu.base_url, "standard", 1, "debit", user_id=BOB).json()["count"] == 9
    # alice: a read first, then the debit
    assert balances(emu.base_url, user_id=ALICE)["standard"] == 10
    assert adjust(emu.base_url, "standard", 1, "debit", user_id=ALICE).json()["count"] == 9
    # carol: the state dump first (it shows the topped-up rows), then the debit
    rows = emu.control.state()["monetize"]["balances"]
    assert next(r["count"] for r in rows if r["user_id"] == CAROL and r["type"] == "standard") == 10
    assert adjust(emu.base_url, "standard", 1, "debit", user_id=CAROL).json()["count"] == 9
    # several midnights with no touch in between top up once, to the same limit
    emu.control.clock.advance(days=3)
    assert {u: balances(emu.base_url, user_id=u)["standard"] for u in (ALICE, BOB, CAROL)} == {
        ALICE: 10, BOB: 10, CAROL: 10}


def test_a_credit_above_the_limit_survives_top_ups(emu: ThreadedEmulator) -> None:
    freeze(emu.control)
    assert adjust(emu.base_url, "standard", 25, "credit").json()["count"] == 25
    to_midnight(emu, "UTC", offset=1)
    assert balances(emu.base_url)["standard"] == 25  # never clawed back
    assert adjust(emu.base_url, "standard", 20, "debit").json()["count"] == 5
    emu.control.clock.advance(days=1)
    assert balances(emu.base_url)["standard"] == 10  # raised to the limit again
    assert adjust(emu.base_url, "advanced", 7, "credit").json()["count"] == 9  # topped up to 2, then +7
    emu.control.clock.advance(days=2)
    assert balances(emu.base_url) == {"standard": 10, "advanced": 9, "free": 0}


def test_a_debit_below_zero_changes_nothing(emu: ThreadedEmulator) -> None:
    resp = adjust(emu.base_url, "advanced", 3, "debit", user_id=ALICE)
    assert resp.status_code == 400
    assert resp.json() | {"message": ""} == {"error": "insufficient", "code": "insufficient", "message": "",
                                             "type": "advanced", "available": 2}
    assert balances(emu.base_url, user_id=ALICE)["advanced"] == 2
    legacy = requests.post(f"{emu.base_url}/api/v1/withdraw-tokens", headers={"X-Api-Key": ACME_KEY}, timeout=30,
                           json={"paywall_id": "15", "user_id": ALICE, "tokens": 3, "token_type": "advanced"})
    assert (legacy.status_code, legacy.json()["code"]) == (400, "insufficient_tokens")
    assert (legacy.json()["available"], legacy.json()["requested"]) == (2, 3)
    assert balances(emu.base_url, user_id=ALICE)["advanced"] == 2


def test_new_users_start_with_the_trial_allowance(emu: ThreadedEmulator) -> None:
    token = emu.control.mint_token("15", email="newcomer@example.com")
    resp = requests.get(f"{emu.base_url}/api/v1/paywall/15/balances", headers={"Authorization": f"Bearer {token}"},
                        timeout=30)
    assert resp.status_code == 200
    assert resp.json() == {"tokenization": True, "balances": [
        {"type": "standard", "count": 10}, {"type": "advanced", "count": 2}, {"type": "free", "count": 0}]}
    # a known user who never touched the paywall cannot be credited (404) until something links them,
    # which gives the trial allowance; the credit comes on top
    assert adjust(emu.base_url, "advanced", 3, "credit", user_id=CAROL).status_code == 404
    emu.control.mint_token("15", user_id=CAROL)
    credited = adjust(emu.base_url, "advanced", 3, "credit", user_id=CAROL).json()
    assert credited["count"] == 5
    assert credited["balances"] == [{"type": "standard", "count": 10}, {"type": "advanced", "count": 5},
                                    {"type": "free", "count": 0}]


def test_a_paywall_without_tokenization_has_no_balances(emu: ThreadedEmulator) -> None:
    token = emu.control.mint_token("3", user_id=ALICE)
    resp = requests.get(f"{emu.base_url}/api/v1/paywall/3/balances", headers={"Authorization": f"Bearer {token}"},
                        timeout=30)
    assert resp.json() == {"balances": [], "tokenization": False}
    bootstrap = requests.get(f"{emu.base_url}/api/v1/paywall/3/bootstrap", timeout=30).json()
    assert all(b["type"] != "tokenization_gate" for b in bootstrap["layout"]["blocks"])


def test_the_tokenization_config_on_the_wire(emu: ThreadedEmulator) -> None:
    bootstrap = requests.get(f"{emu.base_url}/api/v1/paywall/15/bootstrap", timeout=30).json()
    [gate] = [b for b in bootstrap["layout"]["blocks"] if b["type"] == "tokenization_gate"]
    assert gate["queries"] == [
        {"id": "standard", "name": "Standard queries", "desc": "GPT-4o mini class models", "count": 1000},
        {"id": "advanced", "name": "Advanced queries", "desc": "GPT-4o class models", "count": 100},
        {"id": "free", "name": "Free queries", "desc": "Never charged", "count": 0}]
    assert "tokenization" not in bootstrap["settings"]  # the SDK never gets the daily-trial limit
    user = requests.get(f"{emu.base_url}/api/v1/paywall/15/user", params={"email": "alice@example.com"},
                        headers={"X-Api-Key": ACME_KEY}, timeout=30).json()
    assert user["balances"] == [{"type": "standard", "count": 42}, {"type": "advanced", "count": 2},
                                {"type": "free", "count": 0}]


def test_new_york_top_up_at_local_midnight_with_advance(tokens: ThreadedEmulator) -> None:
    now = freeze(tokens.control)
    day = now.date() + timedelta(days=1)
    evening = datetime(day.year, day.month, day.day, 23, 50, tzinfo=UTC)  # 18:50 or 19:50 in New York
    tokens.control.clock.set(evening.isoformat())
    assert balances(tokens.base_url, paywall=NY_PW) == NY_TRIAL  # a new day since the seed
    assert adjust(tokens.base_url, "standard", 3, "debit", paywall=NY_PW).json()["count"] == 0
    assert adjust(tokens.base_url, "standard", 10, "debit").json()["count"] == 0  # bob on the UTC paywall
    tokens.control.clock.advance(seconds=20 * 60)  # past midnight UTC, still evening in New York
    assert balances(tokens.base_url)["standard"] == 10
    assert balances(tokens.base_url, paywall=NY_PW)["standard"] == 0
    to_midnight(tokens, "America/New_York", offset=-1)
    assert balances(tokens.base_url, paywall=NY_PW)["standard"] == 0
    tokens.control.clock.advance(seconds=2)
    assert balances(tokens.base_url, paywall=NY_PW) == NY_TRIAL
