"""monetize's section of the inspector page (`GET /_emulator/`): tables built from its part of the state
dump (`GET /_emulator/state`, under `monetize`) with buttons that call its control operations (pay or
decline a checkout, renew or expire a subscription, redeliver a webhook), and sign-in's accounts and
mailbox. Reads the dump only, never the store. No aiohttp.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...engine.inspector import RECENT, Action, Row, Table, attempts_cell, cell, control_path, newest

LIVE = ("trialing", "active", "past_due")


def tables(dump: Mapping[str, Any]) -> list[Table]:
    def rows(name: str) -> list[Mapping[str, Any]]:
        found = dump.get(name)
        return [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []

    emails = {str(u.get("id")): str(u.get("email") or u.get("id")) for u in rows("users")}
    linked: dict[str, list[str]] = {}
    for link in rows("links"):
        linked.setdefault(str(link.get("paywall_id")), []).append(emails.get(str(link.get("user_id")), ""))
    return [_paywalls(rows("paywalls"), rows("prices"), linked), _users(rows("users"), rows("links")),
            _subscriptions(rows("subscriptions"), emails), _balances(rows("balances"), emails),
            _checkouts(rows("checkouts"), emails), _events(rows("events")),
            _deliveries(rows("webhook_deliveries")), _endpoints(rows("webhook_endpoints")),
            _accounts(rows("accounts"), emails), _mailbox(rows("mailbox"))]


def _paywalls(paywalls: Sequence[Mapping[str, Any]], prices: Sequence[Mapping[str, Any]],
              linked: Mapping[str, list[str]]) -> Table:
    def price_list(paywall_id: str) -> str:
        return ", ".join(f"{p.get('id')} {p.get('label') or ''} {p.get('amount')} {p.get('currency')}/"
                         f"{p.get('interval') or 'once'}".replace("  ", " ")
                         for p in prices if str(p.get("paywall_id")) == paywall_id and p.get("active", True))

    return Table(title="Paywalls", name="paywalls",
                 columns=("id", "name", "owner", "acquirer", "tokenized", "prices", "users"),
                 rows=[Row(key=str(p.get("id")), cells=(
                     cell(p.get("id")), cell(p.get("name")), cell(p.get("owner_id")), cell(p.get("acquirer")),
                     "yes" if p.get("token_types") else "no", price_list(str(p.get("id"))),
                     ", ".join(sorted(linked.get(str(p.get("id")), [])))))
                       for p in paywalls])


def _users(users: Sequence[Mapping[str, Any]], links: Sequence[Mapping[str, Any]]) -> Table:
    def paywalls_of(user_id: str) -> str:
        return ", ".join(str(k.get("paywall_id")) for k in links if str(k.get("user_id")) == user_id)

    return Table(title="Users", name="users", columns=("email", "id", "name", "paywalls", "created"),
                 rows=[Row(key=str(u.get("id")), cells=(cell(u.get("email")), cell(u.get("id")), cell(u.get("name")),
                                                       paywalls_of(str(u.get("id"))), cell(u.get("created_at"))))
                       for u in users])


def _subscriptions(subscriptions: Sequence[Mapping[str, Any]], emails: Mapping[str, str]) -> Table:
    def actions(s: Mapping[str, Any]) -> tuple[Action, ...]:
        sid = str(s.get("id"))
        if s.get("status") not in LIVE:
            return ()
        renew = () if s.get("cancel_at_period_end") else (
            Action(label="Renew now", path=control_path("subscriptions", sid, "renew"), test_id=f"renew-{sid}"),)
        return (*renew, Action(label="Expire", path=control_path("subscriptions", sid, "expire"),
                               test_id=f"expire-{sid}"))

    return Table(title="Subscriptions", name="subscriptions",
                 columns=("id", "paywall", "user", "price", "status", "period end", "cancel at period end"),
                 rows=[Row(key=str(s.get("id")), actions=actions(s), cells=(
                     cell(s.get("id")), cell(s.get("paywall_id")), emails.get(str(s.get("user_id")), ""),
                     cell(s.get("price_id")), cell(s.get("status")), cell(s.get("current_period_end")),
                     cell(bool(s.get("cancel_at_period_end")))))
                       for s in subscriptions])


def _balances(balances: Sequence[Mapping[str, Any]], emails: Mapping[str, str]) -> Table:
    return Table(title="Token balances", name="balances", columns=("user", "paywall", "type", "count"),
                 rows=[Row(key=f"{b.get('user_id')}/{b.get('paywall_id')}/{b.get('type')}", cells=(
                     emails.get(str(b.get("user_id")), ""), cell(b.get("paywall_id")), cell(b.get("type")),
                     cell(b.get("count")))) for b in balances])


def _checkouts(checkouts: Sequence[Mapping[str, Any]], emails: Mapping[str, str]) -> Table:
    def actions(c: Mapping[str, Any]) -> tuple[Action, ...]:
        cid = str(c.get("id"))
        if c.get("status") != "open":
            return ()
        return (Action(label="Pay", path=control_path("checkouts", cid, "complete"), test_id=f"pay-{cid}"),
                Action(label="Decline", path=control_path("checkouts", cid, "decline"), test_id=f"decline-{cid}"))

    newest = sorted(sorted(checkouts, key=lambda c: str(c.get("created_at")), reverse=True),
                    key=lambda c: c.get("status") != "open")
    return Table(title="Checkouts", name="checkouts", note="Open ones first; Pay and Decline act as the buyer would.",
                 columns=("id", "paywall", "user", "price", "status", "started", "outcome"),
                 rows=[Row(key=str(c.get("id")), actions=actions(c), cells=(
                     cell(c.get("id")), cell(c.get("paywall_id")), emails.get(str(c.get("user_id")), ""),
                     cell(c.get("price_id")), cell(c.get("status")), cell(c.get("created_at")),
                     cell(c.get("outcome_reason") or c.get("subscription_id") or c.get("payment_id"))))
                       for c in newest])


def _events(events: Sequence[Mapping[str, Any]]) -> Table:
    shown = newest(events)
    return Table(title="Event log", name="events", note=f"Newest first (at most {RECENT}).",
                 columns=("id", "type", "paywall", "subject", "at"),
                 rows=[Row(key=str(e.get("id")), cells=(cell(e.get("id")), cell(e.get("type")),
                                                       cell(e.get("paywall_id")), cell(e.get("subject")),
                                                       cell(e.get("created_at"))))
                       for e in shown])


def _attempt_outcome(attempt: Mapping[str, Any]) -> Any:
    return attempt.get("status_code") or attempt.get("error") or "?"


def _deliveries(deliveries: Sequence[Mapping[str, Any]]) -> Table:
    shown = newest(deliveries)
    return Table(title="Webhook deliveries", name="deliveries", note=f"Newest first (at most {RECENT}).",
                 columns=("id", "event", "type", "url", "status", "attempts", "next attempt"),
                 rows=[Row(key=str(d.get("id")), cells=(
                     cell(d.get("id")), cell(d.get("event_id")), cell(d.get("type")), cell(d.get("url")),
                     cell(d.get("status")), attempts_cell(d.get("attempts"), _attempt_outcome),
                     cell(d.get("next_attempt_at"))),
                     actions=(Action(label="Redeliver", path=control_path("webhooks", "deliveries", str(d.get("id")),
                                                                          "redeliver"),
                                     test_id=f"redeliver-{d.get('id')}"),))
                       for d in shown])


def _endpoints(endpoints: Sequence[Mapping[str, Any]]) -> Table:
    return Table(title="Webhook endpoints", name="endpoints", columns=("id", "owner", "url", "events", "enabled"),
                 rows=[Row(key=str(e.get("id")), cells=(
                     cell(e.get("id")), cell(e.get("owner_id")), cell(e.get("url")),
                     ", ".join(e.get("events") or []) or "all", cell(e.get("enabled", True))))
                       for e in endpoints])


def _accounts(accounts: Sequence[Mapping[str, Any]], emails: Mapping[str, str]) -> Table:
    def signs_in_with(a: Mapping[str, Any]) -> str:
        ways = (["anonymous"] if a.get("anonymous") else []) + (["password"] if a.get("has_password") else [])
        identities = a.get("identities")
        return ", ".join(ways + (sorted(identities) if isinstance(identities, Mapping) else [])) or "e-mail code"

    return Table(title="Sign-in accounts", name="accounts",
                 columns=("user", "signs in with", "confirmed", "waiting for", "user_meta", "last sign-in"),
                 rows=[Row(key=str(a.get("user_id")), cells=(
                     emails.get(str(a.get("user_id")), str(a.get("user_id"))), signs_in_with(a),
                     cell(a.get("confirmed")), cell(a.get("pending_email")), cell(a.get("user_meta") or None),
                     cell(a.get("last_sign_in_at"))))
                       for a in accounts])


def _mailbox(messages: Sequence[Mapping[str, Any]]) -> Table:
    shown = newest(messages)
    return Table(title="Mailbox", name="mailbox",
                 note=f"What sign-in would have e-mailed, newest first (at most {RECENT}); "
                      "GET /_emulator/mailbox?email=... reads it.",
                 columns=("to", "kind", "code", "link", "paywall", "sent"),
                 rows=[Row(key=str(m.get("id")), cells=(
                     cell(m.get("to")), cell(m.get("kind")), cell(m.get("code")), cell(m.get("link")),
                     cell(m.get("paywall_id")), cell(m.get("sent_at"))))
                       for m in shown])
