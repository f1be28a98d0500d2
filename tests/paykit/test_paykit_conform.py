"""`paywall-emulator conform --product paykit`: passes on the emulator, and fails on deliberately broken
variants of it (a meter that goes negative, a webhook that accepts a bad signature, a publishable key
that grants credits), naming the contract test that caught each. Each run is its own process: it serves
an emulator (lenient responses, so wrong answers reach the suite as a broken deployment would send them),
breaks the product's domain there, and runs the suite in-process against it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .support import STUDIO_PK, STUDIO_SK

# Every test here runs `conform` (a whole pytest session, often in a subprocess): the inner loop skips them.
pytestmark = pytest.mark.slow

RUN = """
import sys
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.conform import main
from paywall_emulator.products.paykit import signing
from paywall_emulator.products.paykit.domain import ledger
from paywall_emulator.testing import ThreadedEmulator

variant, args = sys.argv[1], sys.argv[2:]

meter = ledger.meter

def overdraw(state, now, caller, user_id, event, *, cost=1, cost_usd=None):
    # the real meter (its validation, rights and usage log) with only the floor taken away: what is missing
    # is lent for the call, then taken back, so the balance ends below zero
    ledger.check_meter(event, cost, cost_usd)
    ledger.require_metering_rights(caller)
    acct = ledger.account(state, caller.project.id, user_id)
    short = max(0, int(cost) - acct.credits)
    acct.credits += short
    meter(state, now, caller, user_id, event, cost=cost, cost_usd=cost_usd)
    acct.credits -= short
    return ledger.MeterResult(ok=True, remaining=acct.credits)

if variant == "negative-meter":
    ledger.meter = overdraw
elif variant == "any-signature":
    signing.verify = lambda *a, **k: True
elif variant == "publishable-grants":
    ledger.require_granting_rights = lambda caller: None

with ThreadedEmulator(EmulatorConfig(strict_responses=False)) as emu:
    code = main(["--product", "paykit", "--base-url", emu.base_url, "--budget", "quick", "--hypothesis-seed", "5",
                 "--rate-limit", "none", *args])  # a local emulator: no request rate cap
print(f"EXIT {code}")
"""
WRITES = ["--control", "--allow-writes", "--paykit-publishable-key", STUDIO_PK, "--paykit-secret-key", STUDIO_SK,
          "--paykit-webhook-secret", "whsec_paykit_demo"]


def conform(tmp_path: Path, variant: str, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYWALL_", "PAYKIT_"))}
    done = subprocess.run([sys.executable, "-c", RUN, variant, *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=600, check=False)
    exit_line = next((ln for ln in done.stdout.splitlines() if ln.startswith("EXIT ")), None)
    assert exit_line is not None, done.stdout[-4000:] + done.stderr[-4000:]
    return int(exit_line.removeprefix("EXIT ")), done.stdout


def failed(out: str) -> set[str]:
    return {line.split("::", 1)[1].split("  ", 1)[0] for line in out.splitlines() if "] FAIL " in line}


def reasons(out: str) -> dict[str, str]:
    """The report's failure lines: test name → what it saw (`1. [test] METHOD path — AssertionError: ...`)."""
    found = re.findall(r"^\d+\. \[(\w+)\] (.*)$", out, re.M)
    return {name: reason for name, reason in found}


def test_conform_passes_on_the_emulator(tmp_path: Path) -> None:
    code, out = conform(tmp_path, "none", *WRITES)
    assert code == 0, out
    assert "PASSED: 41 passed" in out  # 32 behavioural tests, 9 generated (one per operation)


@pytest.mark.parametrize(("variant", "caught"), [
    # a meter that goes negative: the single meter answers 200 with -1 left, and 30 at once take more than 5
    ("negative-meter", {"test_meter_never_goes_below_zero": ["POST /api/v1/meter", "expected 402: got HTTP 200",
                                                             '"remaining":-1'],
                        "test_concurrent_meters_never_overdraw": [
                            "POST /api/v1/meter", "30 of 30 concurrent meters on 5 credits answered 200"]}),
    # a webhook taking any signature: a wrong secret (and no header) and a stale timestamp are both granted
    ("any-signature", {"test_the_webhook_refuses_a_bad_signature": ["POST /api/v1/webhook",
                                                                    "expected 400: got HTTP 200",
                                                                    '{"received":true}'],
                       "test_a_signed_webhook_grants_the_pack": ["POST /api/v1/webhook", "expected 400: got HTTP 200",
                                                                 '{"received":true}']}),
    # a publishable key granting: the grant of 100 and Pro goes through
    ("publishable-grants", {"test_a_publishable_key_never_grants_credits": [
        "POST /api/v1/credits", "expected 403: got HTTP 200", '"plan":"pro","credits":105']}),
])
def test_conform_fails_on_a_broken_variant(tmp_path: Path, variant: str, caught: dict[str, list[str]]) -> None:
    """Only the tests of the broken rule fail, each on the wrong answer the variant gives."""
    # the behavioural tests see these; the generated per-operation ones cannot, and only cost time here
    code, out = conform(tmp_path, variant, *WRITES, "-k", "test_paykit_contract")
    assert code == 1, out
    assert failed(out) == set(caught), out
    seen = reasons(out)
    for test, marks in caught.items():
        assert all(mark in seen[test] for mark in marks), (test, seen[test])


def test_a_read_only_run_sends_only_reads(tmp_path: Path) -> None:
    code, out = conform(tmp_path, "none", "--paykit-publishable-key", STUDIO_PK)
    assert code == 0, out
    table = out[out.index("Contract report"):]
    assert "POST /api" not in table and "PATCH" not in table and "GET /api/v1/access" in table
    assert "12 passed" in out and "25 skipped" in out  # 7 behavioural reads, 5 generated reads
