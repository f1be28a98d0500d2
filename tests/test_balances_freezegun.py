"""The daily-trial top-up driven by freezegun: an emulator started inside `freeze_time` follows the frozen
wall time (its loop runs in a thread, hence `real_asyncio=True`), in UTC and in America/New_York across
a daylight-saving change. The non-UTC paywall comes from a seed loaded with `POST /_emulator/seed`.

freezegun patches time for the whole process, and it swaps `time.monotonic` a moment before it gives
event loops their real clock back: a loop running in another thread then (the session emulator's) can
schedule a timer decades ahead and stall. So the scenario runs in its own interpreter."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from freezegun import freeze_time

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import NY_PW, adjust, balances, token_seed


def test_daily_top_up_follows_freezegun_in_utc_and_new_york() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.test_balances_freezegun"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "scenario passed"


def scenario() -> None:
    with freeze_time("2025-01-14 23:50:00", real_asyncio=True) as frozen, \
            ThreadedEmulator(EmulatorConfig(strict_responses=True)) as emu:
        emu.control.load_world({"monetize": token_seed()})
        base = emu.base_url
        assert balances(base) == {"standard": 0, "advanced": 0, "free": 0}
        assert balances(base, paywall=NY_PW) == {"standard": 0, "advanced": 0, "free": 0}

        frozen.move_to("2025-01-15 00:00:01")  # midnight UTC; 19:00 in New York
        assert balances(base) == {"standard": 10, "advanced": 2, "free": 0}
        assert balances(base, paywall=NY_PW)["standard"] == 0
        assert adjust(base, "standard", 10, "debit").json()["count"] == 0

        frozen.move_to("2025-01-15 04:59:59")  # 23:59:59 EST
        assert balances(base, paywall=NY_PW)["standard"] == 0
        frozen.move_to("2025-01-15 05:00:00")  # midnight EST
        assert balances(base, paywall=NY_PW) == {"standard": 3, "advanced": 1, "free": 0}
        assert balances(base)["standard"] == 0  # still the same UTC day
        frozen.tick(timedelta(days=1))
        assert balances(base)["standard"] == 10

        # Daylight saving starts on 2025-03-09: that day's midnight is 05:00Z, the next one 04:00Z.
        frozen.move_to("2025-03-09 12:00:00")
        assert adjust(base, "standard", 3, "debit", paywall=NY_PW).json()["count"] == 0
        frozen.move_to("2025-03-10 03:59:59")  # 23:59:59 EDT
        assert balances(base, paywall=NY_PW)["standard"] == 0
        frozen.move_to("2025-03-10 04:00:00")  # midnight EDT
        assert balances(base, paywall=NY_PW)["standard"] == 3


if __name__ == "__main__":
    scenario()
    print("scenario passed")
