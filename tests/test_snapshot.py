"""`serve --state FILE`: the world (every product's state, the world documents, the clock) survives a
restart; it is saved on a clean shutdown and on POST /_emulator/snapshot, so a `kill -9` loses what
happened since the last save and nothing else; a corrupt or foreign file is refused whole with one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from paywall_emulator.app import create_app
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.snapshot import SnapshotError
from paywall_emulator.testing import ThreadedEmulator

from .conftest import ACME_KEY, STRIPE_PW, Api, error_of
from .serving import free_port, start_serve


def test_a_saved_world_reads_back_exactly(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    with ThreadedEmulator(EmulatorConfig(state_file=state)) as emu:
        api = Api(emu.base_url)
        emu.control.complete_checkout(api.start_checkout({"email": "kept@example.com", "priceId": "102"}))
        emu.control.clock.advance(days=3)
        saved = api.post("/_emulator/snapshot").json()
        assert saved["saved"] is True and saved["path"] == str(state)
        before = emu.control.state()
        now = emu.control.clock.now()
    assert json.loads(state.read_text())["format"] == "paywall-emulator-state/1"
    with ThreadedEmulator(EmulatorConfig(state_file=state)) as emu:
        assert emu.control.state() == before  # subscriptions, payments, events, deliveries, balances
        assert emu.control.clock.now() >= now  # the clock goes on from where it was
        user = Api(emu.base_url).get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY,
                                     params={"email": "kept@example.com"})
        assert user.json()["paid"] is True


def test_without_a_state_file_the_snapshot_is_a_conflict(api: Api) -> None:
    assert error_of(api.post("/_emulator/snapshot")) == (409, "invalid_state")


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "cannot read the state file"),
    ('{"format": "something-else"}', "is not a paywall-emulator state file"),
    ('{"format": "paywall-emulator-state/1", "id_seed": 0, '
     '"states": {"monetize": {"owners": 3}, "paykit": {}, "paywalls-ai": {}}}',
     "does not hold a world"),
    ('{"format": "paywall-emulator-state/1", "id_seed": 0, "states": {"monetize": {}}}', "serving \\['monetize'\\]"),
    ('{"format": "paywall-emulator-state/1", "id_seed": 7, "states": {"monetize": {}}}', "id seed 7"),
])
def test_a_corrupt_or_foreign_state_file_is_refused_whole(tmp_path: Path, content: str, words: str) -> None:
    state = tmp_path / "world.json"
    state.write_text(content, encoding="utf-8")
    with pytest.raises(SnapshotError, match=words):
        create_app(EmulatorConfig(state_file=state))


def _serve(state: Path, port: int) -> subprocess.Popen[bytes]:
    return start_serve("--state", str(state), port=port, log=state.with_suffix(".log"))


@pytest.mark.slow
def test_serve_keeps_the_world_across_restarts_and_a_kill_loses_only_the_unsaved(tmp_path: Path) -> None:
    state, port = tmp_path / "dev.json", free_port()
    api = Api(f"http://127.0.0.1:{port}")
    proc = _serve(state, port)
    api.start_checkout({"email": "before-restart@example.com", "priceId": "102"})
    proc.send_signal(signal.SIGINT)  # a clean shutdown saves
    assert proc.wait(timeout=30) == 0 and state.exists()
    proc = _serve(state, port)
    emails = {u["email"] for u in api.get("/_emulator/state").json()["monetize"]["users"]}
    assert "before-restart@example.com" in emails
    api.start_checkout({"email": "snapshotted@example.com", "priceId": "102"})
    assert api.post("/_emulator/snapshot").status_code == 200
    api.start_checkout({"email": "unsaved@example.com", "priceId": "102"})
    proc.kill()  # kill -9: no shutdown, no save
    proc.wait(timeout=30)
    proc = _serve(state, port)
    try:
        emails = {u["email"] for u in api.get("/_emulator/state").json()["monetize"]["users"]}
        assert {"before-restart@example.com", "snapshotted@example.com"} <= emails
        assert "unsaved@example.com" not in emails
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "paywall_emulator", "serve", "--port", str(port), "--state",
                           str(corrupt)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "cannot read the state file" in done.stderr


def test_a_set_is_saved_in_one_order_whatever_the_hash_seed() -> None:
    """A set's iteration order follows PYTHONHASHSEED; the saved file must not."""
    from paywall_emulator.engine import snapshot

    names = {f"dly_{i:06d}" for i in range(40)}
    assert snapshot.encode(names) == sorted(names)
    # An int hashes to itself: 8 and 1 take slots 0 and 1 of a small set's 8-slot table, so this set
    # iterates [8, 1] however it was built (no collision, so insertion order plays no part).
    small = frozenset([1, 8])
    assert list(small) == [8, 1]
    assert snapshot.encode(small) == [1, 8]
