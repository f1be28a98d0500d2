"""Billing over time, every row of the README's lifecycle table for every acquirer (emulator only: the
clock, payments and renewals are driven through the control API): amounts, statuses, period ends, the
events in order, and access read back through `user-state`. Renewals, trial end and trial once per user,
a failed renewal and its retry, cancelling at period end and while past due, partial and full refunds,
upgrades, checkout expiry, declines, lifetime purchases and offers applied once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from paywall_emulator.contract_tests.billing import (
    ACQUIRERS,
    CHECKOUT_TTL,
    RETRY_DELAY,
    Billing,
    add_interval,
    check_id,
    markers,
    parse,
    steps,
    types,
    unique,
)
from paywall_emulator.contract_tests.client import Api, Control

pytestmark = [pytest.mark.writes,
              pytest.mark.emulator_only("the clock and billing operations of the /_emulator control API")]
DECLINE_CARD = "4000 0000 0000 0002"
FAIL_RENEWALS_CARD = "4000 0000 0000 0341"


@pytest.fixture
def billing(api: Api, control: Control, new_email: Callable[[str], str]) -> Iterator[Billing]:
    control.reset()
    try:
        yield Billing(api, control, new_email)
    finally:
        control.reset()  # the next test sees the world as loaded, on a running clock


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_paid_checkout_then_renewal_at_the_period_end(billing: Billing, acquirer: str,
                                                      new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email(acquirer)
    outcome = billing.buy(plan, email)
    sub, pay, checkout = outcome["subscription"], outcome["payment"], outcome["checkout"]
    for kind, value in (("checkout", checkout["id"]), ("subscription", sub["id"]), ("payment", pay["id"])):
        check_id(acquirer, kind, value)
    assert (checkout["status"], sub["status"], pay["status"]) == ("paid", "active", "succeeded"), outcome
    assert (pay["amount"], pay["currency"]) == (plan.amount, plan.currency), (
        f"first charge {pay['amount']} {pay['currency']}, expected the price {plan.amount} {plan.currency}")
    start, end = parse(sub["current_period_start"]), parse(sub["current_period_end"])
    assert (start, end) == (billing.now, add_interval(billing.now, plan.interval)), (
        f"period {start}..{end}, expected {billing.now}..{add_interval(billing.now, plan.interval)}")
    assert types(unique(billing.events(sub["id"]))) == ["payment.completed", "subscription.created"]
    if acquirer == "freemius":
        assert outcome["redirect_url"] is None, f"freemius never redirects, got {outcome['redirect_url']}"
    else:
        assert markers(outcome["redirect_url"]) == {"paywall_status": "paid", "paywall_price_id": plan.price_id,
                                                    "paywall_session_id": checkout["id"]}
    assert billing.access(plan, email)

    billing.move_to(end - timedelta(seconds=1))
    assert len(billing.payments(sub["id"])) == 1, "renewed before the period end"
    move = billing.advance(timedelta(seconds=1))
    assert steps(move, sub["id"]) == [("subscription.renewed", end)], move["transitions"]
    row = billing.subscription(sub["id"])
    assert (parse(row["current_period_start"]), parse(row["current_period_end"])) == (
        end, add_interval(end, plan.interval)), f"the renewed period is {row}, expected it to start at {end}"
    charges = [(p["status"], p["amount"]) for p in billing.payments(sub["id"])]
    assert charges == [("succeeded", plan.amount)] * 2, f"charges {charges}"
    events = unique(billing.events(sub["id"]))
    assert types(events) == ["payment.completed", "subscription.created", "payment.completed",
                             "subscription.updated"], types(events)
    assert [parse(e["created_at"]) for e in events[2:]] == [end, end]
    assert billing.access(plan, email)


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_failed_renewal_is_retried_three_days_later_and_pays(billing: Billing, acquirer: str,
                                                             new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email("retry")
    sub = billing.buy(plan, email)["subscription"]
    end = parse(sub["current_period_end"])
    billing.act("POST", f"/subscriptions/{sub['id']}/fail-next-renewal")
    move = billing.move_to(end)
    assert steps(move, sub["id"]) == [("subscription.renewal_failed", end)], move["transitions"]
    row = billing.subscription(sub["id"])
    assert row["status"] == "past_due", f"after a failed renewal the status is {row['status']}, expected past_due"
    assert billing.access(plan, email), "a past_due subscription keeps access until the retry"
    assert [p["status"] for p in billing.payments(sub["id"])] == ["succeeded", "failed"]
    assert types(unique(billing.events(sub["id"])))[2:] == ["subscription.updated"]

    billing.move_to(end + RETRY_DELAY - timedelta(seconds=1))
    assert billing.subscription(sub["id"])["status"] == "past_due", "retried before 3 days"
    move = billing.advance(timedelta(seconds=1))
    retry = end + RETRY_DELAY
    assert [t for t, _ in steps(move, sub["id"])] == ["subscription.renewed"], move["transitions"]
    row = billing.subscription(sub["id"])
    assert (row["status"], parse(row["current_period_start"]), parse(row["current_period_end"])) == (
        "active", retry, add_interval(retry, plan.interval)), f"after the paid retry: {row}"
    assert [(p["status"], p["amount"]) for p in billing.payments(sub["id"])] == [
        ("succeeded", plan.amount), ("failed", plan.amount), ("succeeded", plan.amount)]
    assert types(unique(billing.events(sub["id"])))[3:] == ["payment.completed", "subscription.updated"]


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_a_renewal_failing_twice_ends_the_subscription(billing: Billing, acquirer: str,
                                                       new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email("failtwice")
    sub = billing.buy(plan, email, card=FAIL_RENEWALS_CARD)["subscription"]
    end = parse(sub["current_period_end"])
    billing.move_to(end + RETRY_DELAY)
    row = billing.subscription(sub["id"])
    assert row["status"] == "canceled" and parse(row["ended_at"]) == end + RETRY_DELAY, row
    assert [p["status"] for p in billing.payments(sub["id"])] == ["succeeded", "failed", "failed"]
    assert types(unique(billing.events(sub["id"])))[2:] == ["subscription.updated", "subscription.cancelled"]
    assert not billing.access(plan, email)


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_cancel_at_period_end_keeps_access_then_ends_unrenewed(billing: Billing, acquirer: str,
                                                               new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email("leave")
    sub = billing.buy(plan, email)["subscription"]
    end = parse(sub["current_period_end"])
    done = billing.cancel(plan, email, sub["id"])
    assert done["subscription"]["cancel_at_period_end"] is True, done
    assert parse(done["subscription"]["cancel_at"]) == end, f"cancel_at {done['subscription']['cancel_at']}, " \
                                                            f"expected the period end {end}"
    billing.move_to(end - timedelta(seconds=1))
    assert billing.access(plan, email), "access ends before the period end"
    move = billing.advance(timedelta(seconds=1))
    assert steps(move, sub["id"]) == [("subscription.ended", end)], move["transitions"]
    assert len(billing.payments(sub["id"])) == 1, "a subscription cancelled at period end was renewed"
    events = unique(billing.events(sub["id"]))
    assert types(events)[2:] == ["subscription.updated", "subscription.cancelled"]
    assert parse(events[-1]["created_at"]) == end
    assert not billing.access(plan, email)


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_cancelling_while_past_due_ends_at_the_retry_uncharged(billing: Billing, acquirer: str,
                                                               new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email("pastdue")
    sub = billing.buy(plan, email)["subscription"]
    end = parse(sub["current_period_end"])
    billing.act("POST", f"/subscriptions/{sub['id']}/fail-next-renewal")
    billing.move_to(end)
    billing.cancel(plan, email, sub["id"])
    billing.move_to(end + RETRY_DELAY)
    row = billing.subscription(sub["id"])
    assert row["status"] == "canceled" and parse(row["ended_at"]) == end + RETRY_DELAY, row
    assert [p["status"] for p in billing.payments(sub["id"])] == ["succeeded", "failed"], "charged at the retry"
    assert types(unique(billing.events(sub["id"])))[-1] == "subscription.cancelled"


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_partial_then_full_refund(billing: Billing, acquirer: str, new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email("refund")
    outcome = billing.buy(plan, email)
    sub, pay = outcome["subscription"], outcome["payment"]
    part = 100
    first = billing.act("POST", f"/payments/{pay['id']}/refund", {"amount": part})
    check_id(acquirer, "refund", first["refund"]["id"])
    assert (first["payment"]["status"], first["payment"]["refunded_amount"], first["refund"]["amount"]) == (
        "succeeded", part, part), f"after a partial refund of {part}: {first['payment']}, {first['refund']}"
    assert types(first["events"]) == ["refund.created"] and first["subscription"]["status"] == "active"
    assert billing.access(plan, email), "a partial refund removed access"
    assert billing.refused("POST", f"/payments/{pay['id']}/refund", {"amount": plan.amount - part + 1}) == (
        400, "invalid_request")
    rest = billing.act("POST", f"/payments/{pay['id']}/refund", {"amount": plan.amount - part})
    assert (rest["payment"]["status"], rest["payment"]["refunded_amount"]) == ("refunded", plan.amount), rest
    assert types(rest["events"]) == ["refund.created", "subscription.cancelled"]
    assert rest["subscription"]["status"] == "canceled"
    assert not billing.access(plan, email)
    assert billing.refused("POST", f"/payments/{pay['id']}/refund") == (409, "invalid_state")
    assert types(unique(billing.events(sub["id"])))[2:] == ["refund.created", "refund.created",
                                                            "subscription.cancelled"]


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_upgrade_ends_the_previous_subscription(billing: Billing, acquirer: str,
                                                new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    email = new_email("upgrade")
    old = billing.buy(plan, email)["subscription"]
    session = billing.start(plan, email, ignoreActivePurchase=True)
    outcome = billing.act("POST", f"/checkouts/{session}/complete")
    new = outcome["subscription"]
    assert new["id"] != old["id"] and new["status"] == "active"
    assert types(outcome["events"]) == ["payment.completed", "subscription.created", "subscription.cancelled"]
    assert outcome["events"][-1]["id"] in {e["id"] for e in billing.events(old["id"])}
    assert billing.subscription(old["id"])["status"] == "canceled"
    assert billing.access(plan, email)


@pytest.mark.parametrize("acquirer", ACQUIRERS)
def test_open_checkout_expires_after_24_hours(billing: Billing, acquirer: str,
                                              new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    session = billing.start(plan, new_email("expire"))
    billing.advance(CHECKOUT_TTL - timedelta(seconds=1))
    assert billing.act("GET", f"/checkouts/{session}")["status"] == "open", "expired before 24 h"
    move = billing.advance(timedelta(seconds=1))
    assert [t["type"] for t in move["transitions"]] == ["checkout.expired"], move["transitions"]
    assert billing.act("GET", f"/checkouts/{session}")["status"] == "expired"
    assert billing.refused("POST", f"/checkouts/{session}/complete") == (409, "invalid_state")


@pytest.mark.parametrize("acquirer", ACQUIRERS)
@pytest.mark.parametrize("how", ["card", "email"])
def test_a_declined_card_creates_nothing(billing: Billing, acquirer: str, how: str,
                                         new_email: Callable[[str], str]) -> None:
    plan = billing.plan(acquirer)
    # The magic card, or the magic e-mail `decline+…@` (README magic values).
    email = new_email("decline").replace("conform+", "decline+") if how == "email" else new_email("decline")
    before = len(billing.events())
    outcome = billing.buy(plan, email, card=DECLINE_CARD if how == "card" else None)
    assert (outcome["checkout"]["status"], outcome["payment"], outcome["subscription"]) == ("declined", None, None), \
        outcome
    assert outcome["checkout"]["outcome_reason"] == "card_declined"
    if acquirer != "freemius":
        assert markers(outcome["redirect_url"])["paywall_status"] == "failed"
    assert len(billing.events()) == before, "a declined checkout emitted events"
    assert not billing.access(plan, email)


def test_trial_once_per_user_then_the_first_charge_at_trial_end(billing: Billing,
                                                                new_email: Callable[[str], str]) -> None:
    plan = billing.plan("stripe", trial=True)
    assert plan.trial_days
    email = new_email("trial")
    sub = billing.buy(plan, email)["subscription"]
    trial_end = billing.now + timedelta(days=plan.trial_days)
    assert (sub["status"], parse(sub["trial_end"]), parse(sub["current_period_end"])) == (
        "trialing", trial_end, trial_end), f"trial of {plan.trial_days} days: {sub}"
    assert billing.payments(sub["id"]) == [], "a trial charged at checkout"
    assert billing.access(plan, email), "a trial grants access"
    assert billing.user_state(plan, email)["trial"] is not None
    move = billing.move_to(trial_end)
    assert steps(move, sub["id"]) == [("subscription.trial_ended", trial_end)], move["transitions"]
    assert [(p["status"], p["amount"]) for p in billing.payments(sub["id"])] == [("succeeded", plan.amount)]
    assert types(unique(billing.events(sub["id"]))) == ["subscription.created", "payment.completed",
                                                        "subscription.updated"]
    billing.act("POST", f"/subscriptions/{sub['id']}/expire")
    assert billing.user_state(plan, email)["had_previous_trial"] is True
    session = billing.start(plan, email)
    assert billing.act("GET", f"/checkouts/{session}")["trial_days"] is None, (
        "start-checkout offered a trial to a user who had one")
    again = billing.act("POST", f"/checkouts/{session}/complete")
    assert again["subscription"]["status"] == "active" and again["payment"]["amount"] == plan.amount, (
        f"a second checkout of a user who had a trial: {again['subscription']['status']}, expected active and "
        "charged now (one trial per user and paywall)")
    # A session started before another one's trial began, paid after it: no second trial either.
    other = new_email("trial2")
    later = billing.start(plan, other, ignoreActivePurchase=True)
    assert billing.user_state(plan, other)["had_previous_trial"] is False, "a user who never had a trial"
    assert billing.buy(plan, other)["subscription"]["status"] == "trialing"
    paid = billing.act("POST", f"/checkouts/{later}/complete")
    status, amount = paid["subscription"]["status"], (paid["payment"] or {}).get("amount")
    assert (status, amount) == ("active", plan.amount), (
        f"a session started before the user's trial and paid during it: {status}, charged {amount}; expected "
        f"active and charged {plan.amount} (the trial is checked again at payment)")


def test_an_end_date_offer_discounts_the_first_charge_only(billing: Billing, new_email: Callable[[str], str]) -> None:
    plan = billing.plan("stripe", interval="year")
    offer = next((o for o in billing.offers(plan.paywall_id) if o.get("price_id") in (plan.price_id, None)
                  and o.get("expires_at") and parse(o["expires_at"]) > billing.now + timedelta(days=1)
                  and not o.get("duration_minutes")), None)
    if offer is None:
        pytest.skip(f"paywall {plan.paywall_id} has no end-date offer for price {plan.price_id}")
    pay = billing.buy(plan, new_email("offer"))
    discounted = round(plan.amount * (100 - offer["discount_percent"]) / 100)
    assert (pay["payment"]["amount"], pay["payment"]["discount_percent"]) == (discounted, offer["discount_percent"]), (
        f"first charge {pay['payment']['amount']}, expected {plan.amount} - {offer['discount_percent']} % = "
        f"{discounted}")
    end = parse(pay["subscription"]["current_period_end"])
    billing.move_to(end)
    charges = [p["amount"] for p in billing.payments(pay["subscription"]["id"])]
    assert charges == [discounted, plan.amount], f"charges {charges}: the renewal must be charged in full"
    assert parse(offer["expires_at"]) < billing.clock(), "the offer should have ended a year later"
    late = billing.buy(plan, new_email("late"))["payment"]
    assert (late["amount"], late["discount_percent"]) == (plan.amount, None), (
        f"after the offer ended on {offer['expires_at']} the first charge was {late['amount']}, expected the full "
        f"{plan.amount}")


def test_a_lifetime_purchase_is_one_payment_and_access_for_good(billing: Billing,
                                                                new_email: Callable[[str], str]) -> None:
    plan = billing.plan("stripe", interval="lifetime")
    email = new_email("lifetime")
    outcome = billing.buy(plan, email)
    assert outcome["subscription"] is None and outcome["payment"]["amount"] == plan.amount, outcome
    assert types(outcome["events"]) == ["payment.completed"]
    billing.advance(timedelta(days=400))
    assert billing.access(plan, email), "a lifetime purchase lost access after 400 days"


def test_a_weekly_plan_ends_its_trial_then_renews_every_7_days(billing: Billing,
                                                               new_email: Callable[[str], str]) -> None:
    plan = billing.plan("paddle", interval="week", trial=True)
    assert plan.trial_days
    sub = billing.buy(plan, new_email("weekly"))["subscription"]
    trial_end = billing.now + timedelta(days=plan.trial_days)
    move = billing.move_to(trial_end + timedelta(weeks=2))
    expected = [("subscription.trial_ended", trial_end), ("subscription.renewed", trial_end + timedelta(weeks=1)),
                ("subscription.renewed", trial_end + timedelta(weeks=2))]
    assert steps(move, sub["id"]) == expected, f"weekly steps {steps(move, sub['id'])}, expected {expected}"
    assert [p["amount"] for p in billing.payments(sub["id"])] == [plan.amount] * 3



def test_a_month_started_on_the_31st_ends_on_the_last_day_of_a_shorter_month(
        billing: Billing, new_email: Callable[[str], str]) -> None:
    plan = billing.plan("stripe")
    now = billing.clock()
    year, month = now.year, now.month
    while True:  # the next 31st whose following month has 30 days (March, May, August, October)
        at = datetime(year, month, 31, 10, tzinfo=UTC) if month in (3, 5, 8, 10) else None
        if at is not None and at > now:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    billing.move_to(at)
    sub = billing.buy(plan, new_email("month-end"))["subscription"]
    end = parse(sub["current_period_end"])
    expected = datetime(at.year, at.month + 1, 30, 10, tzinfo=UTC)
    assert (parse(sub["current_period_start"]), end) == (at, expected), (
        f"a monthly period from {at:%Y-%m-%d} ends {end:%Y-%m-%d %H:%M}, expected {expected:%Y-%m-%d %H:%M} (the last "
        "day of the shorter month)")
