"""`paywall-emulator conform --product paywalls-ai` passes on the emulator (in a thread, and served as a
staging target would be) and fails on each broken variant: a deposit replayed twice, a blocked reply
that charges, a signature computed over re-serialised JSON instead of the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.products.paywalls_ai import signing
from paywall_emulator.products.paywalls_ai.domain import balances, proxy
from paywall_emulator.products.paywalls_ai.domain.access import Blocked
from paywall_emulator.testing import ThreadedEmulator

from .http_support import DEMO_KEY

# Every test here runs `conform` (a whole pytest session, often in a subprocess): the inner loop skips them.
pytestmark = pytest.mark.slow


def conform(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it (quick budget, a fixed Hypothesis seed so the generated part replays, and
    no request rate cap, as every target here is a local emulator)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWALL_")}
    return subprocess.run([sys.executable, "-m", "paywall_emulator", "conform", "--product", "paywalls-ai",
                           "--budget", "quick", "--hypothesis-seed", "3", "--rate-limit", "none", *args],
                          capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600, check=False)


def against(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return conform(cwd, "--base-url", url, "--api-key", DEMO_KEY, "--allow-writes", "--control", *args)


@pytest.fixture
def served() -> Iterator[str]:
    with ThreadedEmulator(EmulatorConfig(strict_responses=True)) as emu:
        yield emu.base_url


def test_conform_passes_in_a_thread_and_read_only_against_a_url(tmp_path: Path, served: str) -> None:
    # a part of the suite in the thread (the whole of it runs against a URL below and with writes next)
    done = conform(tmp_path, "-k", "chat or deposit or unknown_key")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED:" in done.stdout and "POST /v1/user/balance/deposit" in done.stdout
    assert "ok   test_conformance::test_operation[POST /v1/chat/completions]" in done.stdout
    staging = conform(tmp_path, "--base-url", served, "--api-key", DEMO_KEY)
    assert staging.returncode == 0, staging.stdout + staging.stderr
    assert "PASSED:" in staging.stdout and "writes: creates or changes objects" in staging.stdout
    assert "POST /v1" not in staging.stdout.split("Contract report")[-1]  # a read-only run sends only GETs
    assert DEMO_KEY not in staging.stdout


def test_conform_passes_on_a_served_emulator_with_writes(tmp_path: Path, served: str) -> None:
    done = against(served, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED: 29 passed" in done.stdout


def _replays_deposits(monkeypatch: pytest.MonkeyPatch) -> None:
    original = balances.remembered

    def forgetful(*args: Any, **kwargs: Any) -> Any:
        slot, fingerprint, _ = original(*args, **kwargs)
        return slot, fingerprint, None  # the key is stored but never honoured

    monkeypatch.setattr(balances, "remembered", forgetful)


def _blocked_reply_charges(monkeypatch: pytest.MonkeyPatch) -> None:
    original = proxy.admit

    def charging(state: Any, paywall: Any, user_id: str, *args: Any, **kwargs: Any) -> Any:
        outcome = original(state, paywall, user_id, *args, **kwargs)
        key = (paywall.scope, user_id)
        if isinstance(outcome, Blocked) and state.balances.get(key, 0) > 0:  # the refusal takes what it can
            state.balances[key] -= 1  # never overdrawn: invisible to a user with nothing on the balance
        return outcome

    monkeypatch.setattr(proxy, "admit", charging)


def _signs_reserialised_json(monkeypatch: pytest.MonkeyPatch) -> None:
    def sign(secret: str, body: bytes) -> str:
        again = json.dumps(json.loads(body), sort_keys=True).encode()
        return hmac.new(secret.encode(), again, hashlib.sha256).hexdigest()

    monkeypatch.setattr(signing, "sign", sign)


@pytest.mark.parametrize(("breakage", "failing", "reason"), [
    (_replays_deposits, "test_a_deposit_replayed_with_its_key_credits_once",
     "{'balanceFormatted': '1.00'} == {'balanceFormatted': '0.50'}"),
    (_blocked_reply_charges, "test_a_paywall_required_reply_leaves_a_short_balance_untouched",
     "a paywall-required reply charged 1 base units"),
    (_signs_reserialised_json, "test_deliveries_are_signed_over_their_raw_bytes", "signature is not over the raw body"),
], ids=["deposit-replayed", "blocked-reply-charges", "signature-reserialised"])
def test_conform_fails_on_each_broken_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              breakage: Callable[[pytest.MonkeyPatch], None], failing: str,
                                              reason: str) -> None:
    breakage(monkeypatch)
    with ThreadedEmulator(EmulatorConfig(strict_responses=False)) as emu:  # the behavioural tests see these
        done = against(emu.base_url, tmp_path, "-k", "test_behaviour")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if line.startswith("[") and " FAIL " in line]
    assert len(failed) == 1 and failing in failed[0], done.stdout  # that test alone, for the reason below
    assert f"[{failing}]" in done.stdout and reason in done.stdout.split("Failures")[-1], done.stdout
