"""scripts/bench.py runs end to end (quick reset section, and the scale section at a tiny size; no timing is
asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # each test runs the bench in another interpreter, serving for seconds


def test_bench_quick_reset_prints_the_reset_line() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--only", "reset"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "POST /_emulator/reset" in result.stdout, result.stdout
    assert "World.reset() in-process" in result.stdout, result.stdout


def test_bench_quick_scale_section_at_a_tiny_size() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--only", "scale",
                             "--scale-users", "200", "--scale-events", "1000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for row in ("POST start-checkout, 200 users/checkouts + 1,000 events vs empty req/s",
                "POST balances credit/debit, 200 users/checkouts + 1,000 events vs empty req/s",
                "clock/advance 1 day, 1 hanging receiver, empty world",
                "clock/advance 1 day, 1 hanging receiver, big world",
                "RSS per 100,000 checkouts", "RSS per 1,000,000 domain events"):
        assert row in result.stdout, result.stdout
    assert "200 checkouts, 1,000 events" in result.stdout, result.stdout  # the world was filled as asked
