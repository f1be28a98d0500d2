"""A Hypothesis state machine over billing lifecycles, driven through HTTP (public API + control API) on
a frozen emulator clock: start-checkout, pay (plain, decline card, fail-renewals card), decline, cancel,
cancel-subscription, renew, fail-next-renewal, expire, refund and clock advances, on a Stripe, a Paddle
and a Chargebee paywall for two fresh buyers.

A small model predicts every answer and each subscription's status, period and charges (renewals at
period end, one retry 3 days after a failed one, scheduled cancellations, expiry of open checkouts after
24 h). Invariants: the access `user-state` and `user` report equals the model's; at most one live
subscription per buyer and paywall; each subscription's events are in time order, its first
`subscription.*` event is `subscription.created` and nothing of it follows `subscription.cancelled`;
every `payment.completed` names a succeeded-or-refunded payment (and each such payment has one);
declined and cancelled checkouts produce nothing; every event validates against the spec's `webhooks:`
schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from paywall_emulator.products.monetize.domain.periods import add_interval
from paywall_emulator.testing import ControlClient, ControlError, ThreadedEmulator
from tests.worlds import monetize_section

from .conftest import ACME_KEY, CHARGEBEE_PW, PADDLE_PW, STRIPE_PW
from .test_lifecycle import VALIDATORS, parse

EMAILS = ("prop.one@example.com", "prop.two@example.com")
# price -> (paywall, interval, default trial days)
PRICES: dict[str, tuple[str, str | None, int | None]] = {
    "101": (STRIPE_PW, "month", 7), "102": (STRIPE_PW, "year", None), "103": (STRIPE_PW, None, None),
    "201": (PADDLE_PW, "month", None), "202": (PADDLE_PW, "week", 3), "601": (CHARGEBEE_PW, "month", None),
}
PAYWALLS = (STRIPE_PW, PADDLE_PW, CHARGEBEE_PW)
CARDS = (None, None, "4000000000000002", "4000000000000341")
RETRY = timedelta(days=3)
LIVE = frozenset({"trialing", "active", "past_due"})


@dataclass
class Session:
    id: str
    email: str
    price: str
    trial: int | None
    ignore: bool
    created: datetime
    status: str = "open"


@dataclass
class Sub:
    id: str
    email: str
    paywall: str
    interval: str
    status: str
    period_end: datetime
    fail_all: bool
    cancel: bool = False
    fail_next: bool = False
    paid: int = 0
    failed: int = 0

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def due(self) -> datetime | None:
        if not self.live:
            return None
        return self.period_end + RETRY if self.status == "past_due" else self.period_end

    def renew(self, at: datetime, period_start: datetime) -> None:
        fails = self.fail_next or self.fail_all
        self.fail_next = False
        if fails:
            self.failed += 1
            self.status = "past_due"
            self.period_end = period_start
        else:
            self.paid += 1
            self.status = "active"
            self.period_end = add_interval(period_start, self.interval, 1)

    def retry(self, at: datetime) -> None:
        if self.fail_next or self.fail_all:
            self.fail_next = False
            self.failed += 1
            self.status = "canceled"
        else:
            self.renew(at, at)

    def step(self, at: datetime) -> None:
        if self.cancel:
            self.status = "canceled"
        elif self.status == "past_due":
            self.retry(at)
        else:
            self.renew(at, self.period_end)


@dataclass
class Model:
    now: datetime
    sessions: list[Session] = field(default_factory=list)
    subs: dict[str, Sub] = field(default_factory=dict)
    lifetime: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # payment -> (email, pw, refunded)
    had_trial: set[tuple[str, str]] = field(default_factory=set)

    def access(self, email: str, paywall: str) -> bool:
        return any(s.live for s in self.subs.values() if (s.email, s.paywall) == (email, paywall)) or any(
            (e, p, False) == (email, paywall, r) for e, p, r in self.lifetime.values())

    def advance(self, target: datetime) -> None:
        for session in self.sessions:
            if session.status == "open" and session.created + timedelta(hours=24) <= target:
                session.status = "expired"
        for sub in self.subs.values():
            while (due := sub.due()) is not None and due <= target:
                event(f"advance: {sub.status}{' (cancel scheduled)' if sub.cancel else ''} period end")
                sub.step(due)
        self.now = target


class LifecycleMachine(RuleBasedStateMachine):
    emu: ThreadedEmulator  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.control: ControlClient = self.emu.control
        self.control.reset()
        at = self.control.clock.now() + timedelta(seconds=1)
        self.model = Model(now=self.control.clock.set(at))
        self.http = requests.Session()
        self.base = self.emu.base_url
        self.validated = 0

    # --- helpers ----------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        return self.control.events()

    def act(self, call: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        try:
            return 200, call(*args, **kwargs)
        except ControlError as exc:
            return exc.status, exc.body

    def user_of_session(self, session: Session) -> tuple[str, str]:
        return session.email, PRICES[session.price][0]

    # --- rules ------------------------------------------------------------------------------

    @rule(email=st.sampled_from(EMAILS), price=st.sampled_from(sorted(PRICES)),
          trial=st.sampled_from([None, None, 0, 2]), ignore=st.booleans())
    def start_checkout(self, email: str, price: str, trial: int | None, ignore: bool) -> None:
        paywall, interval, default_trial = PRICES[price]
        body: dict[str, Any] = {"email": email, "priceId": price, "successUrl": "https://app.example.com/ok",
                                "errorUrl": "https://app.example.com/err", "ignoreActivePurchase": ignore}
        if trial is not None:
            body["trial_days"] = trial
        resp = self.http.post(f"{self.base}/api/v1/paywall/{paywall}/start-checkout", json=body,
                              headers={"X-Api-Key": ACME_KEY}, timeout=30)
        if self.model.access(email, paywall) and not ignore:
            assert resp.status_code == 409 and resp.json()["code"] == "already_purchased", resp.text
            return
        assert resp.status_code == 200, resp.text
        days = trial if trial is not None else default_trial
        if interval is None or (email, paywall) in self.model.had_trial:
            days = None
        self.model.sessions.append(Session(id=self.control.checkout_session_id(resp.json()), email=email,
                                           price=price, trial=days or None, ignore=ignore, created=self.model.now))

    @rule(email=st.sampled_from(EMAILS), price=st.sampled_from(sorted(PRICES)), ignore=st.booleans(),
          card=st.sampled_from(CARDS))
    def buy(self, email: str, price: str, ignore: bool, card: str | None) -> None:
        """start-checkout and pay at once (the common path, so most runs have subscriptions to act on)."""
        count = len(self.model.sessions)
        self.start_checkout(email, price, None, ignore)
        if len(self.model.sessions) > count:
            self.pay(self.model.sessions[-1], card)

    @precondition(lambda self: self.model.sessions)
    @rule(pick=st.integers(0, 1000), card=st.sampled_from(CARDS))
    def complete(self, pick: int, card: str | None) -> None:
        self.pay(self.model.sessions[pick % len(self.model.sessions)], card)

    def pay(self, session: Session, card: str | None) -> None:
        email, paywall = self.user_of_session(session)
        before = len(self.events())
        status, out = self.act(self.control.complete_checkout, session.id, **({"card": card} if card else {}))
        if session.status != "open":
            event(f"complete: {session.status} session refused")
            assert (status, out["code"]) == (409, "invalid_state"), out
            return
        if card == "4000000000000002":
            event("complete: magic decline card")
            assert status == 200 and out["checkout"]["status"] == "declined" and out["events"] == [], out
            session.status = "declined"
            assert len(self.events()) == before
            return
        if not session.ignore and self.model.access(email, paywall):
            event("complete: refused, already has access")
            assert (status, out["code"]) == (409, "invalid_state"), out
            return
        assert status == 200 and out["checkout"]["status"] == "paid", out
        event(f"complete: paid{' (upgrade)' if session.ignore and self.model.access(email, paywall) else ''}")
        session.status = "paid"
        replaced = [s for s in self.model.subs.values() if (s.email, s.paywall) == (email, paywall) and s.live]
        _, interval, _ = PRICES[session.price]
        if interval is None:
            assert out["subscription"] is None
            self.model.lifetime[out["payment"]["id"]] = (email, paywall, False)
        else:
            trial = session.trial if (email, paywall) not in self.model.had_trial else None
            got = out["subscription"]
            sub = Sub(id=got["id"], email=email, paywall=paywall, interval=interval,
                      status="trialing" if trial else "active",
                      period_end=self.model.now + timedelta(days=trial) if trial
                      else add_interval(self.model.now, interval, 1),
                      fail_all=card == "4000000000000341", paid=0 if trial else 1)
            if trial:
                self.model.had_trial.add((email, paywall))
            assert (got["status"], parse(got["current_period_end"])) == (sub.status, sub.period_end), got
            self.model.subs[sub.id] = sub
        for old in replaced:
            old.status = "canceled"

    @precondition(lambda self: self.model.sessions)
    @rule(pick=st.integers(0, 1000), cancel=st.booleans())
    def decline_or_cancel(self, pick: int, cancel: bool) -> None:
        session = self.model.sessions[pick % len(self.model.sessions)]
        before = len(self.events())
        act = self.control.cancel_checkout if cancel else self.control.decline_checkout
        status, out = self.act(act, session.id)
        if session.status != "open":
            assert (status, out["code"]) == (409, "invalid_state"), out
            return
        session.status = "cancelled" if cancel else "declined"
        assert status == 200 and out["checkout"]["status"] == session.status and out["events"] == [], out
        assert out["subscription"] is None and out["payment"] is None
        assert len(self.events()) == before

    @precondition(lambda self: self.model.subs)
    @rule(pick=st.integers(0, 1000), op=st.sampled_from(["cancel", "renew", "fail_next", "expire"]))
    def on_subscription(self, pick: int, op: str) -> None:
        sub = list(self.model.subs.values())[pick % len(self.model.subs)]
        if op == "cancel":
            resp = self.http.post(f"{self.base}/api/paywall/cancel-subscription", headers={"X-Api-Key": ACME_KEY},
                                  json={"subscriptionId": sub.id, "paywallId": sub.paywall, "email": sub.email,
                                        "cancellationReason": "property test"}, timeout=30)
            if sub.live and not sub.cancel:
                assert resp.status_code == 200, resp.text
                sub.cancel = True
            else:
                assert (resp.status_code, resp.json()["code"]) == (400, "already_cancelled"), resp.text
            return
        call = {"renew": self.control.renew_subscription, "fail_next": self.control.fail_next_renewal,
                "expire": self.control.expire_subscription}[op]
        status, out = self.act(call, sub.id)
        if not sub.live or (op == "renew" and sub.cancel):
            assert (status, out["code"]) == (409, "invalid_state"), (op, out)
            return
        assert status == 200, (op, out)
        event(f"subscription: {op} on {sub.status}")
        if op == "renew":
            if sub.status == "past_due":
                sub.retry(self.model.now)
            else:
                sub.renew(self.model.now, self.model.now)
        elif op == "fail_next":
            sub.fail_next = True
        else:
            sub.status = "canceled"
        assert out["subscription"]["status"] == sub.status, (op, out["subscription"], sub)

    @rule(pick=st.integers(0, 1000), how=st.sampled_from(["full", "part", "over"]))
    def refund(self, pick: int, how: str) -> None:
        state = self.control.state()["monetize"]
        users = {u["id"] for u in state["users"] if u["email"] in EMAILS}
        payments = [p for p in state["payments"] if p["user_id"] in users]
        if not payments:
            return
        payment = payments[pick % len(payments)]
        remaining = payment["amount"] - payment["refunded_amount"]
        amount = {"full": None, "part": max(1, remaining // 3), "over": remaining + 1}[how]
        status, out = self.act(self.control.refund_payment, payment["id"],
                               **({"amount": amount} if amount is not None else {}))
        if payment["status"] != "succeeded":
            assert (status, out["code"]) == (409, "invalid_state"), out
            return
        if how == "over":
            assert (status, out["code"]) == (400, "invalid_request"), out
            return
        assert status == 200, out
        full = amount is None or amount >= remaining
        event(f"refund: {'full' if full else 'partial'}")
        assert out["payment"]["status"] == ("refunded" if full else "succeeded")
        if not full:
            return
        sub = self.model.subs.get(payment["subscription_id"] or "")
        if sub is not None and sub.live:
            sub.status = "canceled"
        if payment["id"] in self.model.lifetime:
            email, paywall, _ = self.model.lifetime[payment["id"]]
            self.model.lifetime[payment["id"]] = (email, paywall, True)

    @rule(seconds=st.sampled_from([3600, 86400, 3 * 86400 + 1, 8 * 86400, 31 * 86400, 100 * 86400]))
    def advance(self, seconds: int) -> None:
        moved = self.control.clock.advance(seconds=seconds)
        target = self.model.now + timedelta(seconds=seconds)
        assert parse(moved["now"]) == target
        ats = [parse(t["at"]) for t in moved["transitions"]]
        assert ats == sorted(ats)
        self.model.advance(target)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def access_matches_the_model(self) -> None:
        for email in EMAILS:
            for paywall in PAYWALLS:
                expected = self.model.access(email, paywall)
                state = self.http.get(f"{self.base}/api/v1/paywall/{paywall}/user-state",
                                      headers={"X-User-Email": email}, timeout=30)
                assert state.status_code == 200 and state.json()["has_active_subscription"] is expected, \
                    (email, paywall, state.text)
                user = self.http.get(f"{self.base}/api/v1/paywall/{paywall}/user", params={"email": email},
                                     headers={"X-Api-Key": ACME_KEY}, timeout=30)
                if user.status_code == 404:  # never started a checkout
                    assert user.json()["code"] in ("identity_not_found", "identity_not_on_paywall") and not expected
                else:
                    assert user.status_code == 200 and user.json()["paid"] is expected, (email, paywall, user.text)

    @invariant()
    def state_matches_the_model(self) -> None:
        state = self.control.state()["monetize"]
        subs = {s["id"]: s for s in state["subscriptions"]}
        for sub in self.model.subs.values():
            row = subs[sub.id]
            assert (row["status"], parse(row["current_period_end"])) == (sub.status, sub.period_end), (row, sub)
            charges = [p["status"] for p in state["payments"] if p["subscription_id"] == sub.id]
            assert (len(charges) - charges.count("failed"), charges.count("failed")) == (sub.paid, sub.failed), \
                (sub, charges)
        users = {u["id"]: u["email"] for u in state["users"] if u["email"] in EMAILS}
        live = [(s["user_id"], s["paywall_id"]) for s in state["subscriptions"]
                if s["user_id"] in users and s["status"] in LIVE]
        assert len(live) == len(set(live)), live
        for row in state["checkouts"]:
            if row["user_id"] in users and row["status"] in ("declined", "cancelled", "expired"):
                assert row["payment_id"] is None and row["subscription_id"] is None, row
        sessions = {s.id: s.status for s in self.model.sessions}
        assert {r["id"]: r["status"] for r in state["checkouts"] if r["id"] in sessions} == sessions

        events = self.events()
        for envelope in events[self.validated:]:
            errors = list(VALIDATORS[envelope["type"]].iter_errors(envelope))
            assert not errors, (envelope, [e.message for e in errors])
        self.validated = len(events)
        mine = [e for e in events if e["data"]["user"]["id"] in users]
        paid_ids = {p["id"] for p in state["payments"] if p["user_id"] in users and p["status"] != "failed"}
        completed = {e["data"]["payment"]["id"] for e in mine if e["type"] == "payment.completed"}
        assert completed == paid_ids
        assert len({e["id"] for e in mine if e["type"] == "payment.completed"}) == len(paid_ids)
        for sub in self.model.subs.values():
            of_sub = list({e["id"]: e for e in mine if (e["data"].get("subscription") or {}).get("id") == sub.id}
                          .values())
            stamps = [parse(e["created_at"]) for e in of_sub]
            assert stamps == sorted(stamps), [(e["type"], e["created_at"]) for e in of_sub]
            kinds = [e["type"] for e in of_sub if e["type"].startswith("subscription.")]
            assert kinds[0] == "subscription.created", kinds
            assert kinds.count("subscription.created") == 1
            ended = "subscription.cancelled" in kinds
            assert ended is (sub.status == "canceled"), (kinds, sub)
            if ended:
                assert kinds[-1] == "subscription.cancelled" and kinds.count("subscription.cancelled") == 1, kinds

    def teardown(self) -> None:
        self.http.close()


def test_lifecycles_follow_the_model(emu: ThreadedEmulator) -> None:
    # The bundled paywalls without the seeded users: their subscriptions would renew on every advance
    # and only slow the event log down.
    doc = monetize_section()
    emu.control.load_world({"monetize": {**doc, "users": []}})
    LifecycleMachine.emu = emu
    try:
        # 10 derandomized examples reach every `event(...)` label that 20 reach, at half the cost.
        run_state_machine_as_test(LifecycleMachine, settings=settings(
            max_examples=10, stateful_step_count=25, deadline=None, database=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        emu.restore()
