"""The mutation catalogue (`scripts/mutation.py`, run by hand: every mutant against the whole suite):
every mutant applies to exactly one place, the catalogue covers every domain module of every product, and
a sample of five mutants is killed by `conform` (a fast selection of the behavioural tests, in two
workers), so the machinery stays in working order."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Five mutants the fast modules (limits, time) kill; the full run takes every mutant through the whole suite.
SAMPLE = ("events-101", "tickets-gif-allowed", "auth-token-ttl", "topup-lowers", "balance-max-off-by-one")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_once_and_every_domain_module_is_mutated() -> None:
    mutation = _script()
    assert mutation.check() == []
    assert len(mutation.MUTANTS) >= 30
    mutated = {m.path for m in mutation.MUTANTS}
    for domain in (ROOT / "emulator" / "products").glob("*/domain"):
        modules = {str(p.relative_to(ROOT)) for p in domain.glob("*.py") if p.name != "__init__.py"}
        assert modules <= mutated, f"domain modules without a mutant: {sorted(modules - mutated)}"


@pytest.mark.slow
def test_a_sample_of_mutants_is_killed() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "mutation.py"), "--only", *SAMPLE,
                           "--tests", "test_behaviour_limits", "test_behaviour_time",
                           "--no-baseline", "--workers", "2", "--budget", "150"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"killed {len(SAMPLE)} of {len(SAMPLE)} mutants (100%)" in proc.stdout, proc.stdout
