"""The rule table of the contract suite (`contract_tests/rules.yaml`), for every product: every row names at
least one test of its own product, every test it names exists, every behavioural test is named by some
row, and `conform --rules` prints each rule's verdict after a run (only the conformed product's rows)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from paywall_emulator.contract_tests import rules

SUITE = Path(rules.__file__).resolve().parent


def _functions() -> dict[str, set[str]]:
    """Module name as rows spell it (`test_x`, `paykit/test_x`) -> its test functions."""
    found: dict[str, set[str]] = {}
    for path in [*SUITE.glob("test_*.py"), *(p for f in rules.PRODUCT_FOLDERS for p in (SUITE / f).glob("test_*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.stem if path.parent == SUITE else f"{path.parent.name}/{path.stem}"
        found[name] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return found


def _product(module: str) -> str:
    folder, _, rest = module.partition("/")
    return rules.PRODUCT_FOLDERS[folder] if rest else "monetize"


def _behavioural(module: str) -> bool:
    """Hand-written rule tests: monetize's `test_behaviour_*`, and a product's own modules except the
    generated and per-operation ones."""
    stem = module.rsplit("/", 1)[-1]
    if "/" not in module:
        return stem.startswith("test_behaviour")
    return stem != "test_conformance" and not stem.endswith("_generated")


def test_every_rule_names_tests_that_exist() -> None:
    table = rules.load()
    assert table, "rules.yaml has no rows"
    ids = [r.id for r in table]
    assert len(ids) == len(set(ids)), f"duplicate rule ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    functions = _functions()
    problems = []
    for rule in table:
        if not rule.tests:
            problems.append(f"{rule.id}: names no test")
        if not (rule.source and rule.quote):
            problems.append(f"{rule.id}: no source or quote")
        if rule.product not in ("monetize", *rules.PRODUCT_FOLDERS.values()):
            problems.append(f"{rule.id}: unknown product {rule.product!r}")
        for test in rule.tests:
            module, _, name = test.partition("::")
            if name not in functions.get(module, set()):
                problems.append(f"{rule.id}: {test} does not exist")
            elif _product(module) != rule.product:
                problems.append(f"{rule.id}: {test} is a test of {_product(module)}, the row is {rule.product}'s")
    assert not problems, "\n".join(problems)


def test_every_behavioural_test_checks_some_rule() -> None:
    named = {t for r in rules.load() for t in r.tests}
    unlisted = sorted(f"{m}::{f}" for m, fs in _functions().items() if _behavioural(m)
                      for f in fs if f"{m}::{f}" not in named)
    assert not unlisted, f"behavioural tests no rule names: {unlisted}"


def test_a_rules_verdict_comes_from_its_tests_outcomes() -> None:
    rule = rules.Rule(id="r", source="s", quote="q", tests=("test_a::test_x", "test_b::test_y"))
    base = "contract_tests/test_a.py::test_x[1]"
    assert rules.verdict(rule, {}) == "not run"
    assert rules.verdict(rule, {base: "passed", "contract_tests/test_b.py::test_y": "skipped"}) == "pass"
    assert rules.verdict(rule, {base: "skipped"}) == "skip"
    assert rules.verdict(rule, {base: "passed", "contract_tests/test_a.py::test_x[2]": "failed"}) == "fail"
    assert rules.verdict(rule, {base: "blocked"}) == "blocked"
    assert rules.verdict(rule, {"contract_tests/test_a.py::test_other": "failed"}) == "not run"


def test_a_products_own_tests_are_named_with_their_folder() -> None:
    assert rules.test_key("paykit/test_paykit_contract.py::test_meter_limits[extra0]") == (
        "paykit/test_paykit_contract::test_meter_limits")
    assert rules.test_key("paywalls_ai/test_conformance.py::test_operation") == (
        "paywalls_ai/test_conformance::test_operation")
    assert rules.test_key("test_conformance.py::test_operation[GET /x]") == "test_conformance::test_operation"
    rule = rules.Rule(id="r", source="s", quote="q", tests=("paywalls_ai/test_behaviour::test_x",),
                      product="paywalls-ai")
    assert rules.verdict(rule, {"paywalls_ai/test_behaviour.py::test_x": "passed"}) == "pass"
    assert rules.verdict(rule, {"test_behaviour.py::test_x": "passed"}) == "not run"


def test_each_product_has_its_own_rows() -> None:
    every = rules.load()
    by_product = {p: rules.load(product=p) for p in ("monetize", "paykit", "paywalls-ai")}
    assert all(by_product.values()), {p: len(r) for p, r in by_product.items()}
    assert sum(len(r) for r in by_product.values()) == len(every)
    assert all(r.product == p for p, rows in by_product.items() for r in rows)


@pytest.mark.slow
def test_conform_rules_prints_each_rules_verdict(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "paywall_emulator", "conform", "--rules", "--budget", "quick",
                           "-k", "unknown_paywall_is_not_found or bearer_expires"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mine = rules.load(product="monetize")
    table = proc.stdout.split("Rules (contract_tests/rules.yaml):\n")[1].split(f"\n{len(mine)} rules: ")[0]
    lines = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}
    assert lines["not-found-paywall"] == "pass" and lines["bearer-lifetime"] == "pass", proc.stdout
    assert lines["lifecycle-renewal"] == "not" and set(lines) == {r.id for r in mine}, proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("product", "passing", "selection"), [
    ("paykit", "paykit-meter-limits", "meter_limit"), ("paywalls-ai", "paywallsai-key", "missing_or_unknown_key")])
def test_conform_rules_prints_the_conformed_products_rows(tmp_path: Path, product: str, passing: str,
                                                          selection: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "paywall_emulator", "conform", "--product", product, "--rules",
                           "--budget", "quick", "-k", selection],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mine = rules.load(product=product)
    table = proc.stdout.split("Rules (contract_tests/rules.yaml):\n")[1].split(f"\n{len(mine)} rules: ")[0]
    lines = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}
    assert set(lines) == {r.id for r in mine}, proc.stdout
    assert lines[passing] == "pass" and list(lines.values()).count("pass") < len(lines), proc.stdout
