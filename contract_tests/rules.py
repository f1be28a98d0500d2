"""The rule table (`rules.yaml`): every behavioural rule the suite checks, per product, with its source and
tests, and its verdict after a run (pass, fail, skip, blocked, or not run) from the per-test outcomes of
the report. Data and text only; no HTTP, no `emulator` import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RULES_PATH = Path(__file__).resolve().parent / "rules.yaml"
# The subpackage holding a product's own tests: a test there is named "<folder>/<module>::<function>".
PRODUCT_FOLDERS: dict[str, str] = {"paykit": "paykit", "paywalls_ai": "paywalls-ai"}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    source: str
    quote: str
    tests: tuple[str, ...]  # "module::function", or "paykit/module::function" for a product's own tests
    product: str = "monetize"


def load(path: Path = RULES_PATH, product: str | None = None) -> list[Rule]:
    """Every row, or only `product`'s."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = [Rule(id=str(r["id"]), source=str(r["source"]), quote=str(r["quote"]),
                 tests=tuple(str(t) for t in r.get("tests") or ()), product=str(r.get("product") or "monetize"))
            for r in data["rules"]]
    return [r for r in rows if product is None or r.product == product]


def test_key(nodeid: str) -> str:
    """`…/test_x.py::test_y[param]` -> `test_x::test_y`; `…/paykit/test_x.py::test_y` -> `paykit/test_x::test_y`."""
    file, _, name = nodeid.partition("::")
    parts = file.removesuffix(".py").split("/")
    module = "/".join(parts[-2:]) if len(parts) > 1 and parts[-2] in PRODUCT_FOLDERS else parts[-1]
    return f"{module}::{name.split('[', 1)[0]}"


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
