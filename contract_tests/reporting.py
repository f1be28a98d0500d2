"""What a contract run tells a person: requests sent and failures (by check) per operation, each failure
with a redacted `curl` that reproduces it, as a table on the terminal and as JSON for tools.

`Recorder` is filled by the guarded HTTP session, the control client, the Schemathesis hooks and the pytest
hooks of `conftest.py` (its request counts are safe to update from several threads: the concurrency tests
send over several connections at once). It keeps every test's requests in order, so a failing behavioural
test reproduces as a shell script of the whole sequence; each test's outcome (for the rule table); and the
tests blocked by a broken precondition, reported once under their root failure. `render_*` turn its JSON
form into text. No HTTP, no `emulator` import.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from paywall_emulator.contract_tests.client import curl, curl_of

SCHEMA_VERSION = 1
# Schemathesis' checks (the rest of the failure names are hand-written tests, which print the answer).
GENERATED_CHECKS = frozenset({
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
    "response_headers_conformance", "negative_data_rejection", "ignored_auth", "positive_data_acceptance",
    "ensure_resource_availability", "use_after_free", "error"})
BODY_EXCERPT = 300
TRAIL_LIMIT = 400  # requests kept per test for its reproduction script
BLOCKED = "blocked by "  # the skip reason of a test whose precondition failed earlier in the run


@dataclass(slots=True)
class FailureRecord:
    test: str
    operation: str
    check: str
    title: str
    message: str
    curl: str | None
    status: int | None = None
    response: str | None = None  # the start of the answer's body
    script: str | None = None  # every request the test sent, in order, as a runnable shell script


class Recorder:
    def __init__(self) -> None:
        self.total_requests = 0
        self.requests: Counter[str] = Counter()
        self.failures: dict[tuple[str, str, str, str], FailureRecord] = {}
        self.current_test: str | None = None
        self.last_request: requests.PreparedRequest | None = None
        self.last_operation: str | None = None
        self.last_status: int | None = None
        self.last_body: str | None = None
        self.outcomes: Counter[str] = Counter()
        self.skips: Counter[str] = Counter()
        self.meta: dict[str, Any] = {}
        self.results: dict[str, str] = {}  # test id -> passed / failed / skipped / blocked
        self.blocked: dict[str, list[str]] = {}  # root failure -> the tests it blocked
        self.trail: list[str] = []  # the current test's requests, as curl lines
        self._lock = threading.Lock()

    def start_test(self, nodeid: str) -> None:
        self.current_test = nodeid
        self.trail = []
        self.last_request = None
        self.last_operation = None
        self.last_status = None
        self.last_body = None

    def on_request(self, operation: str, request: requests.PreparedRequest) -> None:
        with self._lock:
            self.total_requests += 1
            self.requests[operation] += 1
            if len(self.trail) < TRAIL_LIMIT:
                self.trail.append(curl_of(request))
            self.last_request = request
            self.last_operation = operation
            self.last_status = None
            self.last_body = None

    def on_control(self, method: str, url: str, body: str | None) -> None:
        """A control-API request (not counted per operation, but part of the test's reproduction)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        with self._lock:
            if len(self.trail) < TRAIL_LIMIT:
                self.trail.append(curl(method, url, headers, body))

    def on_result(self, test: str, outcome: str, reason: str = "") -> None:
        self.results[test] = outcome
        self.outcomes[outcome] += 1
        if outcome == "blocked":
            self.blocked.setdefault(reason.removeprefix(BLOCKED), []).append(test)

    def on_response(self, status: int, body: bytes) -> None:
        with self._lock:
            self.last_status = status
            self.last_body = body[:BODY_EXCERPT].decode("utf-8", "replace")

    def add_failure(self, *, operation: str, check: str, title: str, message: str,
                    request: requests.PreparedRequest | None, status: int | None = None,
                    response: str | None = None, test: str | None = None, script: bool = False) -> None:
        test = test or self.current_test or "?"
        key = (test, operation, check, title)
        # Keep the latest: Hypothesis replays the minimal failing example last.
        trail = list(self.trail) if script else []
        self.failures[key] = FailureRecord(test=test, operation=operation, check=check, title=title,
                                           message=message.strip()[:2000],
                                           curl=curl_of(request) if request is not None else None,
                                           status=status, response=response,
                                           script=render_script(test, trail, self.meta.get("base_url"))
                                           if len(trail) > 1 else None)

    def has_failure_for(self, test: str) -> bool:
        return any(key[0] == test for key in self.failures)

    def to_json(self) -> dict[str, Any]:
        by_op: dict[str, Counter[str]] = defaultdict(Counter)
        for record in self.failures.values():
            by_op[record.operation][record.check] += 1
        operations = sorted(set(self.requests) | set(by_op))
        return {
            "version": SCHEMA_VERSION,
            "meta": self.meta,
            "total_requests": self.total_requests,
            "operations": [{"operation": op, "requests": self.requests.get(op, 0),
                            "failures": dict(sorted(by_op.get(op, Counter()).items()))} for op in operations],
            "failures": [asdict(r) for r in self.failures.values()],
            "outcomes": dict(self.outcomes),
            "skips": dict(self.skips),
            "results": dict(self.results),
            "blocked": dict(self.blocked),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")


def render_script(test: str, trail: list[str], base_url: str | None) -> str:
    """The requests of one test as a runnable shell script; the target is `$PAYWALL_BASE_URL` (default: the
    one it ran against) and secrets are `$PAYWALL_API_KEY` / `$PAYWALL_AUTHORIZATION`."""
    lines = ["#!/bin/sh", f"# {test}: the {len(trail)} requests it sent, in order",
             f': "${{PAYWALL_BASE_URL:={base_url or "http://127.0.0.1:8787"}}}"']
    base = (base_url or "").rstrip("/")
    for line in trail:
        if base:
            line = line.replace(f"'{base}", "\"${PAYWALL_BASE_URL}\"'").replace(f" {base}", ' "${PAYWALL_BASE_URL}"')
        lines.append(line)
    return "\n".join(lines) + "\n"


_REQUIRED = re.compile(r"^[\"']([^\"']+)[\"'] is a required property")


def json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def schema_failure_title(failure: Any) -> str | None:
    """For a response-schema failure: where in the answer (a JSON path) and which field, not only the
    schema keyword (`"paid" is a required property` -> `missing field 'paid' at $.purchases[0]`)."""
    path = getattr(failure, "instance_path", None)
    raw = str(getattr(failure, "_raw_message", "") or "")
    if path is None or not raw:
        return None
    where = json_path(list(path))
    keyword = str(list(getattr(failure, "schema_path", None) or ["?"])[-1])
    missing = _REQUIRED.match(raw)
    if missing:
        return f"Response violates schema: missing field {missing.group(1)!r} at {where}"
    if keyword in ("oneOf", "anyOf"):
        detail = _best_branch(failure)
        return f"Response violates schema at {where}: matches no {keyword} branch" + (f"; {detail}" if detail else "")
    field = f" (field {path[-1]!r})" if path and isinstance(path[-1], str) else ""
    return f"Response violates schema at {where}{field}: {raw[:200]} [{keyword}]"


def _best_branch(failure: Any) -> str | None:
    """The closest branch's first error, with its JSON path (jsonschema's best match)."""
    try:
        import jsonschema
        from jsonschema.exceptions import best_match

        root = failure._root_schema
        schema: Any = root
        for part in list(failure.schema_path)[:-1]:
            schema = schema[part]
        branches = schema[list(failure.schema_path)[-1]]
        errors = [e for b in branches for e in jsonschema.Draft202012Validator({**b, **(
            {"components": root["components"]} if isinstance(root, dict) and "components" in root else {})}
        ).iter_errors(failure.instance)]
        best = best_match(errors)
    except Exception:  # best effort: the plain message stays
        return None
    if best is None:
        return None
    where = json_path([*failure.instance_path, *best.absolute_path])
    missing = _REQUIRED.match(best.message)
    return f"missing field {missing.group(1)!r} at {where}" if missing else f"{where}: {best.message[:160]}"


def render_table(report: dict[str, Any]) -> str:
    rows = [(o["operation"], str(o["requests"]),
             ", ".join(f"{check} ×{n}" for check, n in o["failures"].items()) or "-")
            for o in report["operations"]]
    header = ("operation", "requests", "failures by check")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), line]
    out += ["  ".join((c.rjust(w) if i == 1 else c.ljust(w)) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            .rstrip() for r in rows]
    out.append(line)
    out.append(f"{'total'.ljust(widths[0])}  {str(report['total_requests']).rjust(widths[1])}  "
               f"{len(report['failures'])} failure(s)")
    return "\n".join(out)


def render_failures(report: dict[str, Any]) -> str:
    out = []
    for i, f in enumerate(report["failures"], 1):
        first = f["message"].splitlines()[0] if f["message"] else ""
        out.append(f"{i}. [{f['check']}] {f['operation']} — {f['title']}")
        out.append(f"   test: {f['test']}")
        if first and first != f["title"] and ".py:" not in first:
            out.append(f"   {first[:300]}")
        if f.get("status") is not None and f["check"] in GENERATED_CHECKS:
            out.append(f"   answer: HTTP {f['status']} {(f.get('response') or '')[:BODY_EXCERPT]}")
        if f.get("script"):
            out.append("   reproduce (the whole sequence):")
            out += [f"     {line}" for line in f["script"][:20000].splitlines()]
        elif f["curl"]:
            out.append(f"   reproduce: {f['curl'][:4000]}")
    return "\n".join(out)


def render_blocked(report: dict[str, Any]) -> str:
    out = []
    for root, tests in report.get("blocked", {}).items():
        names = ", ".join(t.split("::", 1)[-1] for t in tests[:8]) + (" …" if len(tests) > 8 else "")
        out.append(f"blocked by {root}: {len(tests)} test(s) not run ({names})")
    return "\n".join(out)


def render(report: dict[str, Any]) -> str:
    parts = ["Contract report: requests and failures per operation", render_table(report)]
    if report["failures"]:
        parts += ["", "Failures (secrets appear as $PAYWALL_API_KEY / $PAYWALL_AUTHORIZATION):",
                  render_failures(report)]
    if report.get("blocked"):
        parts += ["", render_blocked(report)]
    return "\n".join(parts)
