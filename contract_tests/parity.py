"""Parity between two targets: the read-only tier of requests (GETs only) sent to both with the same
identities, and per operation the differences in status, machine code, fields present and their JSON
types, side by side. Values that naturally differ (ids, timestamps, amounts, names) are ignored by rule:
only the structure and the codes are compared.

HTTP only (`requests`); no `emulator` import, so either side can be any deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from paywall_emulator.contract_tests.client import TIMEOUT, sdk_code


@dataclass(frozen=True, slots=True)
class Identities:
    paywall_id: str
    email: str | None = None
    other_id: str | None = None
    foreign_id: str | None = None
    tokenized_id: str | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    operation: str  # "GET /api/v1/paywall/{id}/user"
    name: str  # what varies: "by email", "no key", …
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    key: bool = True


@dataclass(frozen=True, slots=True)
class Seen:
    status: int
    code: str
    shape: dict[str, str]  # JSON path -> type ("$.prices[].id" -> "string")


@dataclass(frozen=True, slots=True)
class Difference:
    probe: Probe
    aspect: str  # status / code / field / type
    where: str
    reference: str
    target: str


def probes(ids: Identities) -> list[Probe]:
    """The read-only tier: every GET operation, with and without each identity form and credential."""
    pw = ids.paywall_id
    boot, state, user, bal = (f"/api/v1/paywall/{pw}/{p}" for p in ("bootstrap", "user-state", "user", "balances"))
    B, S, U, L = ("GET /api/v1/paywall/{id}/" + p for p in ("bootstrap", "user-state", "user", "balances"))
    out = [Probe(B, "guest", boot, key=False), Probe(B, "stale if_version", boot, {"if_version": f"{pw}:stale"},
                                                      key=False),
           Probe(B, "unknown paywall", "/api/v1/paywall/conform-no-such-paywall/bootstrap", key=False),
           Probe(S, "no identity", state, key=False), Probe(U, "no identity", user),
           Probe(U, "no key", user, {"email": ids.email or "a@example.com"}, key=False),
           Probe(U, "unknown email", user, {"email": "conform-nobody@example.com"}),
           Probe(L, "no bearer", bal, key=False)]
    if ids.email:
        out += [Probe(B, "X-User-Email", boot, headers={"X-User-Email": ids.email}, key=False),
                Probe(S, "X-User-Email", state, headers={"X-User-Email": ids.email}, key=False),
                Probe(U, "by email", user, {"email": ids.email})]
        if ids.other_id:
            out.append(Probe(U, "email on another paywall", f"/api/v1/paywall/{ids.other_id}/user",
                             {"email": ids.email}))
    if ids.foreign_id:
        out.append(Probe(U, "another owner's paywall", f"/api/v1/paywall/{ids.foreign_id}/user",
                         {"email": ids.email or "a@example.com"}))
    if ids.tokenized_id:
        out.append(Probe(B, "tokenized paywall", f"/api/v1/paywall/{ids.tokenized_id}/bootstrap", key=False))
    return out


def shape(value: Any, path: str = "$") -> dict[str, str]:
    """JSON path -> type of every value; list items share one path (`[]`), their shapes merged."""
    kind = ("null" if value is None else "boolean" if isinstance(value, bool) else "integer" if isinstance(value, int)
            else "number" if isinstance(value, float) else "string" if isinstance(value, str)
            else "array" if isinstance(value, list) else "object")
    out = {path: kind}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(shape(v, f"{path}.{k}"))
    elif isinstance(value, list):
        for item in value:
            for p, t in shape(item, f"{path}[]").items():
                out[p] = t if out.get(p, t) == t else "|".join(sorted({*out[p].split("|"), t}))
    return out


def observe(base_url: str, api_key: str, probe: Probe) -> Seen:
    headers = {"Accept": "application/json", **probe.headers, **({"X-Api-Key": api_key} if probe.key else {})}
    resp = requests.get(base_url.rstrip("/") + probe.path, params=probe.params, headers=headers, timeout=TIMEOUT)
    try:
        body = resp.json() if "json" in resp.headers.get("Content-Type", "") else None
    except ValueError:
        body = None
    return Seen(status=resp.status_code, code=sdk_code(resp) if resp.status_code >= 400 else "-",
                shape=shape(body) if body is not None else {})


def compare(probe: Probe, ref: Seen, tgt: Seen) -> list[Difference]:
    out = []
    if ref.status != tgt.status:
        out.append(Difference(probe, "status", "HTTP", str(ref.status), str(tgt.status)))
    if ref.code != tgt.code:
        out.append(Difference(probe, "code", "code", ref.code, tgt.code))
    if ref.status != tgt.status:  # two different answers: their fields differ by nature, say it once
        return out
    for path in sorted(set(ref.shape) | set(tgt.shape)):
        a, b = ref.shape.get(path), tgt.shape.get(path)
        if a is None or b is None:
            out.append(Difference(probe, "field", path, a or "absent", b or "absent"))
        elif a != b:
            out.append(Difference(probe, "type", path, a, b))
    return out


def run(reference: tuple[str, str], target: tuple[str, str], ids: Identities) -> list[Difference]:
    diffs: list[Difference] = []
    for probe in probes(ids):
        diffs += compare(probe, observe(*reference, probe), observe(*target, probe))
    return diffs


def render(diffs: list[Difference], ids: Identities, names: tuple[str, str] = ("reference", "target")) -> str:
    all_ops = sorted({p.operation for p in probes(ids)})
    rows = [(f"{d.probe.operation} [{d.probe.name}]", d.aspect, d.where, d.reference, d.target) for d in diffs]
    header = ("operation [probe]", "aspect", "where", names[0], names[1])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    out = []
    for op in all_ops:
        mine = [r for r, d in zip(rows, diffs, strict=True) if d.probe.operation == op]
        out.append(f"{op}: {len(mine)} difference(s)" if mine else f"{op}: same")
    if rows:
        out += ["", "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.append(f"\n{len(diffs)} difference(s) over {len(probes(ids))} read-only requests to each side "
               "(ids, timestamps and other values are not compared: status, code, fields and types are)")
    return "\n".join(out)
