"""PayKit's section of the inspector page (`GET /_emulator/`): tables built from its part of the state dump
(`GET /_emulator/state` under `paykit`), with buttons that call its control operations (pay an open
checkout session, cancel a Pro subscription now or at its period end, redeliver a fake-Stripe event).
Reads the dump only, never the state. No aiohttp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...engine.inspector import RECENT, Action, Row, Table, attempts_cell, cell, control_path, newest


def tables(dump: Mapping[str, Any]) -> list[Table]:
    def rows(name: str) -> list[Mapping[str, Any]]:
        found = dump.get(name)
        return [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []

    return [_projects(rows("projects")), _accounts(rows("accounts")), _checkouts(rows("checkoutSessions")),
            _subscriptions(rows("subscriptions")), _events(rows("events")), _usage(rows("usage"))]


def _projects(projects: Sequence[Mapping[str, Any]]) -> Table:
    return Table(title="Projects", name="paykit-projects",
                 columns=("id", "name", "publishable key", "secret key", "secure metering"),
                 rows=[Row(key=str(p.get("id")), cells=(
                     cell(p.get("id")), cell(p.get("name")), cell(p.get("publishableKey")), cell(p.get("secretKey")),
                     cell(bool(p.get("secureMetering"))))) for p in projects])


def _accounts(accounts: Sequence[Mapping[str, Any]]) -> Table:
    return Table(title="Accounts", name="paykit-accounts",
                 columns=("project", "user", "plan", "credits", "entitlements"),
                 rows=[Row(key=f"{a.get('projectId')}/{a.get('userId')}", cells=(
                     cell(a.get("projectId")), cell(a.get("userId")), cell(a.get("plan")), cell(a.get("credits")),
                     ", ".join(str(e) for e in a.get("entitlements") or ()))) for a in accounts])


def _checkouts(sessions: Sequence[Mapping[str, Any]]) -> Table:
    def actions(s: Mapping[str, Any]) -> tuple[Action, ...]:
        sid = str(s.get("id"))
        if s.get("status") != "open":
            return ()
        return (Action(label="Pay", path=control_path("paykit", "checkout", sid, "complete"),
                       test_id=f"paykit-pay-{sid}"),)

    shown = sorted(reversed(sessions), key=lambda s: s.get("status") != "open")  # open first, then newest
    return Table(title="Checkout sessions (fake Stripe)", name="paykit-checkouts",
                 note="Open ones first; Pay completes the session as the buyer would (the webhook is sent).",
                 columns=("id", "project", "user", "kind", "status", "amount (cents)", "subscription"),
                 rows=[Row(key=str(s.get("id")), actions=actions(s), cells=(
                     cell(s.get("id")), cell(s.get("projectId")), cell(s.get("userId")), cell(s.get("kind")),
                     cell(s.get("status")), cell(s.get("amountTotal")), cell(s.get("subscription"))))
                       for s in shown])


def _subscriptions(subscriptions: Sequence[Mapping[str, Any]]) -> Table:
    def actions(s: Mapping[str, Any]) -> tuple[Action, ...]:
        sid = str(s.get("id"))
        if s.get("status") != "active":
            return ()
        path = control_path("paykit", "subscriptions", sid, "cancel")
        later = () if s.get("cancelAtPeriodEnd") else (
            Action(label="Cancel at period end", path=path, body={"atPeriodEnd": True},
                   test_id=f"paykit-cancel-later-{sid}"),)
        return (Action(label="Cancel now", path=path, body={}, test_id=f"paykit-cancel-{sid}"), *later)

    return Table(title="Subscriptions", name="paykit-subscriptions",
                 columns=("id", "project", "user", "status", "period end", "cancel at period end", "renewals"),
                 rows=[Row(key=str(s.get("id")), actions=actions(s), cells=(
                     cell(s.get("id")), cell(s.get("projectId")), cell(s.get("userId")), cell(s.get("status")),
                     cell(s.get("currentPeriodEnd")), cell(bool(s.get("cancelAtPeriodEnd"))), cell(s.get("renewals"))))
                       for s in subscriptions])


def _events(events: Sequence[Mapping[str, Any]]) -> Table:
    return Table(title="Webhook events (fake Stripe)", name="paykit-events", note=f"Newest first (at most {RECENT}).",
                 columns=("id", "type", "project", "created", "status", "attempts"),
                 rows=[Row(key=str(e.get("id")), cells=(
                     cell(e.get("id")), cell(e.get("type")), cell(e.get("projectId")), cell(e.get("created")),
                     cell(e.get("status")), attempts_cell(e.get("attempts"), lambda a: a.get("status"))),
                     actions=(Action(label="Redeliver", path=control_path("paykit", "events", str(e.get("id")),
                                                                          "redeliver"),
                                     test_id=f"paykit-redeliver-{e.get('id')}"),))
                       for e in newest(events)])


def _usage(usage: Sequence[Mapping[str, Any]]) -> Table:
    return Table(title="Usage log", name="paykit-usage", note=f"Newest first (at most {RECENT}).",
                 columns=("at", "project", "user", "kind", "name", "amount"),
                 rows=[Row(cells=(cell(u.get("at")), cell(u.get("projectId")), cell(u.get("userId")),
                                  cell(u.get("kind")), cell(u.get("name")), cell(u.get("amount"))))
                       for u in newest(usage)])
