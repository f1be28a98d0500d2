"""Parity between two targets of one product (monetize, PayKit or Paywalls.ai): its read-only tier of
requests (GETs only, none that opens or changes anything) sent to both with the same identities, and per
operation the differences in status, machine code, fields present and their JSON types, side by side.
Values that naturally differ (ids, timestamps, amounts, names) are ignored by rule: only the structure
and the codes are compared.

HTTP only (`requests`); no `emulator` import, so either side can be any deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from paywall_emulator.contract_tests.client import TIMEOUT, sdk_code

PRODUCTS = ("monetize", "paykit", "paywalls-ai")


@dataclass(frozen=True, slots=True)
class Identities:
    paywall_id: str = ""  # monetize's ids
    email: str | None = None
    other_id: str | None = None
    foreign_id: str | None = None
    tokenized_id: str | None = None
    user: str | None = None  # PayKit's or Paywalls.ai's end user (an existing one: PayKit opens an account
    # for a user id it has not seen)


@dataclass(frozen=True, slots=True)
class Probe:
    operation: str  # "GET /api/v1/paywall/{id}/user"
    name: str  # what varies: "by email", "no key", …
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    key: bool = True  # send the key where the product takes it (a header)
    query_key: bool = False  # send it as `?key=` (PayKit's third form)


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


def probes(ids: Identities, product: str = "monetize") -> list[Probe]:
    """The read-only tier: every GET operation, with and without each identity form and credential."""
    if product == "paykit":
        return paykit_probes(ids)
    if product == "paywalls-ai":
        return paywalls_ai_probes(ids)
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


def paykit_probes(ids: Identities) -> list[Probe]:
    """PayKit's GETs. `GET /access` of an unseen user id creates its account, so only the named user is read
    (without one, only the refusals)."""
    A, N, C, P = ("GET /api/v1/" + p for p in ("access", "analytics", "accounts", "projects"))
    E = "GET /embed.js"
    out = [Probe(A, "no userId", "/api/v1/access"),
           Probe(A, "unknown key", "/api/v1/access", {"userId": "conform-nobody"}, key=False,
                 headers={"x-paykit-key": "pk_live_conform_unknown"}),
           Probe(N, "key", "/api/v1/analytics"), Probe(C, "key", "/api/v1/accounts"),
           Probe(C, "unknown key", "/api/v1/accounts", key=False, headers={"x-paykit-key": "pk_live_conform_unknown"}),
           Probe(P, "no owner", "/api/v1/projects", key=False), Probe(E, "script", "/embed.js", key=False)]
    if ids.user:
        out += [Probe(A, "user", "/api/v1/access", {"userId": ids.user}),
                Probe(A, "user, key in the query", "/api/v1/access", {"userId": ids.user}, key=False,
                      query_key=True)]
    return out


def paywalls_ai_probes(ids: Identities) -> list[Probe]:
    """Paywalls.ai's GETs that open nothing (`topup` opens a session, `connect` an authorization request,
    `disconnect` revokes one: all left out)."""
    M, B, S, L = ("GET /v1/" + p for p in ("models", "user/balance", "webhooks/subscriptions", "webhooks/logs"))
    out = [Probe(M, "key", "/v1/models"), Probe(M, "no key", "/v1/models", key=False),
           Probe(M, "unknown key", "/v1/models", key=False,
                 headers={"Authorization": "Bearer sk-paywalls-v1-conform-unknown"}),
           Probe(B, "no user", "/v1/user/balance"), Probe(B, "malformed user", "/v1/user/balance", {"user": "a b"}),
           Probe(S, "all", "/v1/webhooks/subscriptions"),
           Probe(S, "active", "/v1/webhooks/subscriptions", {"status": "active"}),
           Probe(L, "limit 5", "/v1/webhooks/logs", {"limit": "5"}),
           Probe(L, "limit 101", "/v1/webhooks/logs", {"limit": "101"})]
    if ids.user:
        out += [Probe(B, "user", "/v1/user/balance", {"user": ids.user}),
                Probe(B, "X-Paywall-User", "/v1/user/balance", headers={"X-Paywall-User": ids.user})]
    return out


def credentials(product: str, api_key: str, probe: Probe) -> dict[str, str]:
    """Where the product takes its key; PayKit's query form (`?key=`) when a probe says so."""
    if not probe.key:
        return {}
    if product == "paykit":
        return {"x-paykit-key": api_key}
    if product == "paywalls-ai":
        return {"Authorization": f"Bearer {api_key}"}
    return {"X-Api-Key": api_key}


def error_code(product: str, resp: requests.Response, body: Any) -> str:
    """The machine code of a refusal: PayKit's `{error}` sentence, Paywalls.ai's OpenAI-style `error.code`
    (else its `type`), monetize's code as its SDK derives it."""
    if resp.status_code < 400:
        return "-"
    if product == "paykit" and isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    if product == "paywalls-ai" and isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("code") or error.get("type") or f"http_{resp.status_code}")
    return sdk_code(resp) if product == "monetize" else f"http_{resp.status_code}"


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


def observe(base_url: str, api_key: str, probe: Probe, product: str = "monetize") -> Seen:
    headers = {"Accept": "application/json", **probe.headers, **credentials(product, api_key, probe)}
    params = {**probe.params, **({"key": api_key} if probe.query_key else {})}
    resp = requests.get(base_url.rstrip("/") + probe.path, params=params, headers=headers, timeout=TIMEOUT)
    try:
        body = resp.json() if "json" in resp.headers.get("Content-Type", "") else None
    except ValueError:
        body = None
    return Seen(status=resp.status_code, code=error_code(product, resp, body),
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


def run(reference: tuple[str, str], target: tuple[str, str], ids: Identities,
        product: str = "monetize") -> list[Difference]:
    diffs: list[Difference] = []
    for probe in probes(ids, product):
        diffs += compare(probe, observe(*reference, probe, product), observe(*target, probe, product))
    return diffs


def render(diffs: list[Difference], ids: Identities, names: tuple[str, str] = ("reference", "target"),
           product: str = "monetize") -> str:
    all_ops = sorted({p.operation for p in probes(ids, product)})
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
    out.append(f"\n{len(diffs)} difference(s) over {len(probes(ids, product))} read-only requests to each side "
               "(ids, timestamps and other values are not compared: status, code, fields and types are)")
    return "\n".join(out)
