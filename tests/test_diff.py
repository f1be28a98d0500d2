"""`paywall-emulator diff` between two emulators configured differently (two world files), for each
product: it finds every planted difference side by side (monetize: a missing user -> status and code, a
paywall gone -> status, a price description -> a type, an extra setting -> a field; PayKit: sign-in
required -> status and code, a Pro user now free -> a field; Paywalls.ai: no model -> fields), and reports
none between identical worlds."""

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
PAYKIT_KEY = "pk_live_studio_5f0c2a7d9e3b41c8"  # proj_studio, whose alice is on Pro
PAYWALLS_AI_KEY = "sk-paywalls-v1-emulator-demo"
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
    changed["paykit"]["auth"] = {"required": True}  # GET /projects without an owner: 200 -> 401
    for account in changed["paykit"]["accounts"]:
        if account.get("userId") == "alice":
            account["plan"] = "free"  # $.entitlements[]: a string -> absent
    changed["paywalls-ai"]["paywalls"][0]["models"] = []  # GET /v1/models: $.data[] fields -> absent
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


def test_diff_finds_the_planted_paykit_and_paywalls_ai_differences(targets: tuple[str, str, str]) -> None:
    a, b, _ = targets
    ids = parity.Identities(user="alice")
    found = {(d.probe.operation, d.probe.name, d.aspect, d.where, d.reference, d.target)
             for d in parity.run((a, PAYKIT_KEY), (b, PAYKIT_KEY), ids, "paykit")}
    assert found == {("GET /api/v1/projects", "no owner", "status", "HTTP", "200", "401"),
                     ("GET /api/v1/projects", "no owner", "code", "code", "-", "Not signed in"),
                     ("GET /api/v1/access", "user", "field", "$.entitlements[]", "string", "absent"),
                     ("GET /api/v1/access", "user, key in the query", "field", "$.entitlements[]", "string",
                      "absent")}, found
    diffs = parity.run((a, PAYWALLS_AI_KEY), (b, PAYWALLS_AI_KEY), ids, "paywalls-ai")
    assert {d.probe.operation for d in diffs} == {"GET /v1/models"}, diffs
    assert {(d.aspect, d.where, d.reference, d.target) for d in diffs} >= {
        ("field", "$.data[]", "object", "absent"), ("field", "$.data[].pricing.request", "string", "absent")}, diffs


@pytest.mark.parametrize(("product", "key"), [("paykit", PAYKIT_KEY), ("paywalls-ai", PAYWALLS_AI_KEY)])
def test_identical_worlds_have_no_difference_for_either_product(targets: tuple[str, str, str], product: str,
                                                                 key: str) -> None:
    a, _, c = targets
    ids = parity.Identities(user="alice")
    assert parity.run((a, key), (c, key), ids, product) == []
    statuses = {parity.observe(a, key, probe, product).status for probe in parity.probes(ids, product)}
    assert {200, 400, 401} <= statuses, statuses  # the tier has answers and refusals


def test_the_cli_diffs_the_product_it_is_given(targets: tuple[str, str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    a, b, _ = targets
    code = cli.main(["diff", "--product", "paykit", "--base-url", b, "--api-key", PAYKIT_KEY, "--reference-url", a])
    out = capsys.readouterr().out
    assert code == 1 and "GET /api/v1/analytics: same" in out and "GET /api/v1/projects: 2 difference(s)" in out, out
    row = next(line for line in out.splitlines() if "[no owner]" in line and " status " in line)
    assert row.split()[-2:] == ["200", "401"], row
    assert cli.main(["diff", "--product", "paywalls-ai", "--base-url", a, "--api-key", PAYWALLS_AI_KEY]) == 0
    out = capsys.readouterr().out
    assert "GET /v1/models: same" in out and "0 difference(s)" in out, out
