"""scripts/bench.py runs end to end (quick reset section, the scale section at a tiny size, one startup
launch each; no timing is asserted)."""

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


def test_bench_startup_reports_wall_and_cpu_for_both_launches() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--only", "startup",
                             "--launches", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for label in ("every product", "--products monetize"):
        wall = next(line for line in result.stdout.splitlines()
                    if line.startswith("startup") and f"launch → first 200, {label}" in line)
        cpu = next(line for line in result.stdout.splitlines()
                   if line.startswith("startup") and f"server CPU by the first 200, {label}" in line)
        assert wall.split()[-1] in ("PASS", "MISS"), wall
        cpu_ms = [float(cell) for cell in cpu.split() if cell.replace(".", "", 1).isdigit()]
        assert len(cpu_ms) == 2 and all(ms > 0 for ms in cpu_ms), cpu  # the server's and bare aiohttp's
