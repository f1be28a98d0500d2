"""The rule table (`rules.yaml`): every behavioural rule the suite checks, with its source and tests, and
its verdict after a run (pass, fail, skip, blocked, or not run) from the per-test outcomes of the report.
Data and text only; no HTTP, no `emulator` import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RULES_PATH = Path(__file__).resolve().parent / "rules.yaml"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    source: str
    quote: str
    tests: tuple[str, ...]  # "module::function"


def load(path: Path = RULES_PATH) -> list[Rule]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Rule(id=str(r["id"]), source=str(r["source"]), quote=str(r["quote"]),
                 tests=tuple(str(t) for t in r.get("tests") or ())) for r in data["rules"]]


def test_key(nodeid: str) -> str:
    """`…/test_x.py::test_y[param]` -> `test_x::test_y`."""
    file, _, name = nodeid.partition("::")
    return f"{file.rsplit('/', 1)[-1].removesuffix('.py')}::{name.split('[', 1)[0]}"


def verdict(rule: Rule, results: dict[str, str]) -> str:
    seen = [outcome for nodeid, outcome in results.items() if test_key(nodeid) in rule.tests]
    if not seen:
        return "not run"
    if "failed" in seen or "error" in seen:
        return "fail"
    if "blocked" in seen:
        return "blocked"
    return "pass" if "passed" in seen else "skip"


def render(rules: list[Rule], results: dict[str, Any]) -> str:
    rows = [(r.id, verdict(r, results), r.source, r.quote) for r in rules]
    widths = [max(len(row[i]) for row in [("rule", "verdict", "source", ""), *rows]) for i in range(3)]
    out = ["  ".join(h.ljust(w) for h, w in zip(("rule", "verdict", "source"), widths, strict=True)) + "  rule"]
    out += ["  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + f"  {row[3]}" for row in rows]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    out.append(f"{len(rules)} rules: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return "\n".join(out)
