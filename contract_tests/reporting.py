"""What a contract run tells a person: requests sent and failures (by check) per operation, each failure
with a redacted `curl` that reproduces it, as a table on the terminal and as JSON for tools.

`Recorder` is filled by the guarded HTTP session, the Schemathesis hooks and the pytest hooks of
`conftest.py` (its request counts are safe to update from several threads: the concurrency tests send over
several connections at once); `render_*` turn its JSON form into text. No HTTP, no `emulator` import.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from paywall_emulator.contract_tests.client import curl_of

SCHEMA_VERSION = 1
# Schemathesis' checks (the rest of the failure names are hand-written tests, which print the answer).
GENERATED_CHECKS = frozenset({
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
    "response_headers_conformance", "negative_data_rejection", "ignored_auth", "positive_data_acceptance",
    "ensure_resource_availability", "use_after_free", "error"})
BODY_EXCERPT = 300


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
        self._lock = threading.Lock()

    def start_test(self, nodeid: str) -> None:
        self.current_test = nodeid
        self.last_request = None
        self.last_operation = None
        self.last_status = None
        self.last_body = None

    def on_request(self, operation: str, request: requests.PreparedRequest) -> None:
        with self._lock:
            self.total_requests += 1
            self.requests[operation] += 1
            self.last_request = request
            self.last_operation = operation
            self.last_status = None
            self.last_body = None

    def on_response(self, status: int, body: bytes) -> None:
        with self._lock:
            self.last_status = status
            self.last_body = body[:BODY_EXCERPT].decode("utf-8", "replace")

    def add_failure(self, *, operation: str, check: str, title: str, message: str,
                    request: requests.PreparedRequest | None, status: int | None = None,
                    response: str | None = None, test: str | None = None) -> None:
        test = test or self.current_test or "?"
        key = (test, operation, check, title)
        # Keep the latest: Hypothesis replays the minimal failing example last.
        self.failures[key] = FailureRecord(test=test, operation=operation, check=check, title=title,
                                           message=message.strip()[:2000],
                                           curl=curl_of(request) if request is not None else None,
                                           status=status, response=response)

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
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")


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
        if f["curl"]:
            out.append(f"   reproduce: {f['curl'][:4000]}")
    return "\n".join(out)


def render(report: dict[str, Any]) -> str:
    parts = ["Contract report: requests and failures per operation", render_table(report)]
    if report["failures"]:
        parts += ["", "Failures (secrets appear as $PAYWALL_API_KEY / $PAYWALL_AUTHORIZATION):",
                  render_failures(report)]
    return "\n".join(parts)
