"""scripts/bench.py runs end to end (quick reset section only; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_reset_prints_the_reset_line() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--only", "reset"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "POST /_emulator/reset" in result.stdout, result.stdout
    assert "World.reset() in-process" in result.stdout, result.stdout
