"""`paywall-emulator diff` between two emulators configured differently (two world files): it finds every
planted difference (a missing user -> status and code, a paywall gone -> status, a price description ->
a type, an extra setting -> a field) side by side, and reports none between identical worlds."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from paywall_emulator import cli
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.contract_tests import parity
from paywall_emulator.testing import ThreadedEmulator

from .worlds import bundled

KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
IDS = parity.Identities(paywall_id="3", email="alice@example.com", other_id="7", foreign_id="40", tokenized_id="15")


def _planted(world: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(world)
    section = changed["monetize"]
    section["users"] = [u for u in section["users"] if u["email"] != "alice@example.com"]  # GET user: 200 -> 404
    section["paywalls"] = [p for p in section["paywalls"] if p["id"] != "15"]  # tokenized bootstrap: 200 -> 404
    for user in section["users"]:
        user["paywalls"] = [link for link in user["paywalls"] if link["paywall"] != "15"]
    for paywall in section["paywalls"]:
        if paywall["id"] == "3":
            paywall["prices"][0]["description"] = "Billed monthly"  # $.prices[].description: null -> string
            paywall["settings"]["brand_color"] = None  # null vs string, or a field gone
    return changed


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    folder = tmp_path_factory.mktemp("worlds")
    plain, planted = folder / "plain.yaml", folder / "planted.yaml"
    plain.write_text(yaml.safe_dump(bundled()), encoding="utf-8")
    planted.write_text(yaml.safe_dump(_planted(bundled())), encoding="utf-8")
    with ThreadedEmulator(EmulatorConfig(world=plain)) as a, ThreadedEmulator(EmulatorConfig(world=planted)) as b, \
            ThreadedEmulator(EmulatorConfig(world=plain)) as c:
        yield a.base_url, b.base_url, c.base_url


def test_diff_finds_every_planted_difference(targets: tuple[str, str, str]) -> None:
    a, b, _ = targets
    diffs = parity.run((a, KEY), (b, KEY), IDS)
    found = {(d.probe.operation, d.probe.name, d.aspect, d.where, d.reference, d.target) for d in diffs}
    user, boot = "GET /api/v1/paywall/{id}/user", "GET /api/v1/paywall/{id}/bootstrap"
    assert (user, "by email", "status", "HTTP", "200", "404") in found, found
    assert (user, "by email", "code", "code", "-", "identity_not_found") in found, found
    assert (boot, "tokenized paywall", "status", "HTTP", "200", "404") in found, found
    assert (boot, "guest", "type", "$.prices[].description", "null", "null|string") in found, found
    assert any(d.probe.operation == boot and d.where.startswith("$.settings.brand_color") for d in diffs), found
    # Values that differ naturally (ids, timestamps, the version hash) are not differences.
    assert not any(d.where in ("$.version", "$.prices[].id") for d in diffs), found


def test_identical_worlds_have_no_difference(targets: tuple[str, str, str]) -> None:
    a, _, c = targets
    assert parity.run((a, KEY), (c, KEY), IDS) == []


def test_the_cli_prints_differences_side_by_side(targets: tuple[str, str, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a, b, _ = targets
    code = cli.main(["diff", "--base-url", b, "--api-key", KEY, "--reference-url", a])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "GET /api/v1/paywall/{id}/user: " in out and "GET /api/v1/paywall/{id}/balances: same" in out, out
    row = next(line for line in out.splitlines() if "[by email]" in line and " status " in line)
    assert row.split()[-2:] == ["200", "404"], row
    assert cli.main(["diff", "--base-url", a, "--api-key", KEY]) == 0  # the bundled emulator in a thread
    assert "0 difference(s)" in capsys.readouterr().out
