"""The rule table of the contract suite (`contract_tests/rules.yaml`): every row names at least one test,
every test it names exists, every behavioural test is named by some row, and `conform --rules` prints
each rule's verdict after a run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from paywall_emulator.contract_tests import rules

SUITE = Path(rules.__file__).resolve().parent


def _functions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SUITE.glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found[path.stem] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return found


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
        for test in rule.tests:
            module, _, name = test.partition("::")
            if name not in functions.get(module, set()):
                problems.append(f"{rule.id}: {test} does not exist")
    assert not problems, "\n".join(problems)


def test_every_behavioural_test_checks_some_rule() -> None:
    named = {t for r in rules.load() for t in r.tests}
    unlisted = sorted(f"{m}::{f}" for m, fs in _functions().items() if m.startswith("test_behaviour")
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


@pytest.mark.slow
def test_conform_rules_prints_each_rules_verdict(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "paywall_emulator", "conform", "--rules", "--budget", "quick",
                           "-k", "unknown_paywall_is_not_found or bearer_expires"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = proc.stdout.split("Rules (contract_tests/rules.yaml):\n")[1].split(f"\n{len(rules.load())} rules: ")[0]
    lines = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}
    assert lines["not-found-paywall"] == "pass" and lines["bearer-lifetime"] == "pass", proc.stdout
    assert lines["lifecycle-renewal"] == "not" and set(lines) == {r.id for r in rules.load()}, proc.stdout
