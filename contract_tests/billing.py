"""Billing over time for the `emulator_only` behavioural tests: a `Billing` driver that buys through the
public API, pays, renews, fails, refunds and moves the clock through the control API, and reads back
what happened (the subscription and payment rows, the event log, access through `user-state`).

HTTP only (`client.Api` and `client.Control`); the paywalls of each acquirer are discovered from the
control API's state dump, so the tests follow whatever world the target emulator loaded.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from paywall_emulator.contract_tests.client import STATE_ALL, Api, Control, ControlError, expect_ok

ACQUIRERS = ("stripe", "paddle", "freemius", "chargebee", "overpay")
RETRY_DELAY = timedelta(days=3)  # README lifecycle table: the failed renewal is retried once 3 days later
CHECKOUT_TTL = timedelta(hours=24)
# README "Per acquirer": the shape of each acquirer's ids (prefix, or all digits for Freemius).
ID_PREFIXES: dict[str, dict[str, str]] = {
    "stripe": {"checkout": "cs_test_", "subscription": "sub_", "payment": "pi_", "refund": "re_"},
    "paddle": {"checkout": "txn_01", "subscription": "sub_01", "payment": "txn_01", "refund": "adj_01"},
    "chargebee": {"checkout": "hp_", "subscription": "AzZ", "payment": "txn_AzZ", "refund": "ch_re_"},
    "overpay": {"checkout": "ovp_", "subscription": "ov_sub_", "payment": "ov_pay_", "refund": "ov_re_"},
}
FREEMIUS_DIGITS = {"checkout": 9, "subscription": 7, "payment": 8, "refund": 8}


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def add_interval(start: datetime, interval: str, count: int = 1) -> datetime:
    """The end of a period that starts at `start` (calendar months and years, day clamped)."""
    if interval == "week":
        return start + timedelta(weeks=count)
    if interval == "day":
        return start + timedelta(days=count)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


def check_id(acquirer: str, kind: str, value: str) -> None:
    if acquirer == "freemius":
        assert value.isdigit() and len(value) == FREEMIUS_DIGITS[kind], (
            f"freemius {kind} id {value!r}: expected {FREEMIUS_DIGITS[kind]} digits")
        return
    prefix = ID_PREFIXES.get(acquirer, {}).get(kind)
    assert prefix is None or value.startswith(prefix), f"{acquirer} {kind} id {value!r}: expected {prefix}…"


def markers(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events once each, by id (Paddle appends some `subscription.updated` twice on purpose)."""
    return list({e["id"]: e for e in events}.values())


@dataclass(frozen=True, slots=True)
class Plan:
    acquirer: str
    paywall_id: str
    price_id: str
    amount: int  # minor units
    currency: str
    interval: str
    trial_days: int | None


class Billing:
    def __init__(self, api: Api, control: Control, run_email: Any) -> None:
        self.api = api
        self.control = control
        self.run_email = run_email
        self.now = self.freeze()
        self._state: dict[str, Any] = control.request("GET", STATE_ALL)["monetize"]

    # --- world ---------------------------------------------------------------------------------

    def freeze(self) -> datetime:
        """Freeze the clock at 10:00 UTC on the next day of the month up to the 28th (else the 1st of the
        next month): period ends are exact instants and no month end clamps them."""
        now = parse(self.control.request("GET", "/clock")["now"])
        at = datetime(now.year, now.month, now.day, 10, tzinfo=UTC) + timedelta(days=1)
        if at.day > 28:
            year, month = divmod(at.month, 12)
            at = datetime(at.year + year, month + 1, 1, 10, tzinfo=UTC)
        return parse(self.control.request("POST", "/clock", {"now": at.isoformat().replace("+00:00", "Z")})["now"])

    def plan(self, acquirer: str, *, interval: str = "month", trial: bool = False,
             tokenized: bool | None = None) -> Plan:
        """A live price of `interval` on a paywall of `acquirer` the key's owner owns (a paywall without
        tokens first unless `tokenized` says which); skips when the world has none."""
        paywalls = {p["id"]: p for p in self._state["paywalls"] if p["acquirer"] == acquirer
                    and tokenized in (None, bool(p.get("token_types"))) and p["owner_id"] == self.owner()}
        prices = sorted(self._state["prices"], key=lambda p: bool(paywalls.get(p["paywall_id"], {}).get("token_types")))
        for price in prices:
            if (price["paywall_id"] in paywalls and price["active"] and price["interval"] == interval
                    and bool(price.get("trial_days")) == trial):
                return Plan(acquirer=acquirer, paywall_id=price["paywall_id"], price_id=str(price["id"]),
                            amount=round(price["amount"] * 100), currency=price["currency"],
                            interval=interval, trial_days=price.get("trial_days"))
        pytest.skip(f"the target's world has no {'tokenized ' if tokenized else ''}{acquirer} paywall with a "
                    f"{interval} price{' with a trial' if trial else ''}")

    def owner(self) -> str:
        return next(o["id"] for o in self._state["owners"] if self.api.api_key in o["api_keys"])

    def offers(self, paywall_id: str) -> list[dict[str, Any]]:
        boot = expect_ok(self.api.get(f"/api/v1/paywall/{paywall_id}/bootstrap", key=None))
        return list(boot["offers"])

    # --- acting --------------------------------------------------------------------------------

    def start(self, plan: Plan, email: str, **extra: Any) -> str:
        body = {"email": email, "priceId": int(plan.price_id) if plan.price_id.isdigit() else plan.price_id,
                "successUrl": "https://conform.example.com/ok", "errorUrl": "https://conform.example.com/err",
                **extra}
        answer = expect_ok(self.api.post(f"/api/v1/paywall/{plan.paywall_id}/start-checkout", json=body))
        url = str(answer["checkoutUrl"])
        return url.rsplit("/", 1)[1].split("?")[0]

    def buy(self, plan: Plan, email: str, *, card: str | None = None, **extra: Any) -> dict[str, Any]:
        session = self.start(plan, email, **extra)
        return self.act("POST", f"/checkouts/{session}/complete", {"card": card} if card else None)

    def act(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return dict(self.control.request(method, path, body))

    def refused(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        try:
            self.control.request(method, path, body)
        except ControlError as exc:
            import json

            try:
                code = str(json.loads(exc.body).get("code"))
            except ValueError:
                code = "?"
            return exc.status, code
        raise AssertionError(f"control {method} {path} was accepted; expected a refusal")

    def advance(self, delta: timedelta) -> dict[str, Any]:
        return self.act("POST", "/clock/advance", {"seconds": delta.total_seconds()})

    def move_to(self, at: datetime) -> dict[str, Any]:
        return self.advance(at - self.clock())

    def clock(self) -> datetime:
        return parse(self.control.request("GET", "/clock")["now"])

    def cancel(self, plan: Plan, email: str, sub_id: str) -> dict[str, Any]:
        return dict(expect_ok(self.api.post("/api/paywall/cancel-subscription", json={
            "subscriptionId": sub_id, "paywallId": plan.paywall_id, "email": email,
            "cancellationReason": "conform"})))

    # --- reading -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return dict(self.control.request("GET", STATE_ALL)["monetize"])

    def subscription(self, sub_id: str) -> dict[str, Any]:
        return next(s for s in self.state()["subscriptions"] if s["id"] == sub_id)

    def payments(self, sub_id: str) -> list[dict[str, Any]]:
        return [p for p in self.state()["payments"] if p["subscription_id"] == sub_id]

    def events(self, subject: str | None = None) -> list[dict[str, Any]]:
        events = list(self.control.request("GET", "/events")["events"])
        if subject is None:
            return events
        return [e for e in events if subject in ((e["data"].get("subscription") or {}).get("id"),
                                                 (e["data"].get("payment") or {}).get("id"))]

    def access(self, plan: Plan, email: str) -> bool:
        state = expect_ok(self.api.get(f"/api/v1/paywall/{plan.paywall_id}/user-state",
                                       headers={"X-User-Email": email}, key=None))
        return bool(state["has_active_subscription"])

    def user_state(self, plan: Plan, email: str) -> dict[str, Any]:
        return dict(expect_ok(self.api.get(f"/api/v1/paywall/{plan.paywall_id}/user-state",
                                           headers={"X-User-Email": email}, key=None)))


def steps(move: dict[str, Any], sub_id: str) -> list[tuple[str, datetime]]:
    """The transitions a clock move made to one subscription: (type, instant)."""
    return [(t["type"], parse(t["at"])) for t in move["transitions"] if t.get("subscription_id") == sub_id]
