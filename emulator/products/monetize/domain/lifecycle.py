"""Billing lifecycles: what happens to checkouts, subscriptions and payments after start-checkout.

Owns paying, declining and cancelling a checkout (magic test cards and e-mails included), period ends
(renewal charges, trial ends, scheduled cancellations, failed renewals and their one retry) and checkout
expiry; operations on existing subscriptions and payments (cancel, renew now, expire, refund) are in
`domain.subscriptions` and build on the steps here (`charge_renewal`, `retry_renewal`, `end_now`). Every function
validates fully before it mutates, acts as of the instant it is given (a renewal found late is still
stamped at its period end) and emits exactly the events the real flow would, Paddle's duplicate
`subscription.updated` included. Refusals use the control API's codes. No aiohttp.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import field, replace
from datetime import datetime, timedelta
from itertools import islice
from urllib.parse import urlencode

from ....engine.product import Transition
from ....engine.structs import struct
from ..acquirers import acquirer_for
from ..acquirers.base import email_effect
from ..errors import ConflictError, NotFoundError
from ..models import (
    CheckoutSession,
    DomainEvent,
    Payment,
    Paywall,
    PortalSession,
    Price,
    Refund,
    Subscription,
    User,
)
from ..state import Store
from .access import has_access
from .balances import grant_for_payment
from .events import emit
from .periods import add_interval

# A failed renewal leaves the subscription `past_due` (access kept) and the charge is tried once more
# this long after the period end; a second failure ends the subscription.
RENEWAL_RETRY_AFTER = timedelta(days=3)
# An unpaid hosted checkout expires like a Stripe Checkout session does by default.
CHECKOUT_LIFETIME = timedelta(hours=24)
# Statuses the scheduler still has work for (others are final or never billed).
LIVE_STATUSES = frozenset({"trialing", "active", "past_due"})


@struct(frozen=True, kw_only=True)
class SubscriptionStep(Transition):
    """A subscription's period end or ending (`subscription.ended`, ...), as it left it."""

    subscription_id: str
    paywall_id: str
    status: str
    current_period_end: datetime


@struct(frozen=True, kw_only=True)
class SubscriptionCharge(SubscriptionStep):
    """A step that charged: a renewal, a trial end, a failed renewal (`payment_status` failed)."""

    payment_id: str
    payment_status: str


@struct(frozen=True, kw_only=True)
class CheckoutExpired(Transition):
    """An open checkout session past `CHECKOUT_LIFETIME`."""

    checkout_id: str
    paywall_id: str
    status: str


@struct(kw_only=True)
class Outcome:
    """What one lifecycle operation did: the objects it touched, where the buyer goes next, and the
    events it emitted (in order, duplicates included)."""

    checkout: CheckoutSession | None = None
    subscription: Subscription | None = None
    payment: Payment | None = None
    refund: Refund | None = None
    redirect_url: str | None = None
    events: list[DomainEvent] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


# --- lookups (control codes) -------------------------------------------------------------------


def require_checkout(store: Store, session_id: str) -> CheckoutSession:
    session = store.checkouts.get(session_id)
    if session is None:
        raise NotFoundError(f"no checkout session {session_id!r}", code="not_found")
    return session


def require_subscription(store: Store, subscription_id: str) -> Subscription:
    sub = store.subscriptions.get(subscription_id)
    if sub is None:
        raise NotFoundError(f"no subscription {subscription_id!r}", code="not_found")
    return sub


def require_payment(store: Store, payment_id: str) -> Payment:
    payment = store.payments.get(payment_id)
    if payment is None:
        raise NotFoundError(f"no payment {payment_id!r}", code="not_found")
    return payment


def is_live(sub: Subscription) -> bool:
    return sub.status in LIVE_STATUSES and sub.ended_at is None


def can_cancel(sub: Subscription) -> bool:
    """Live and not already set to end: what a Cancel button (portal, API) may still act on."""
    return is_live(sub) and not sub.cancel_at_period_end


def require_portal(store: Store, session_id: str) -> PortalSession:
    portal = store.portal_sessions.get(session_id)
    if portal is None:
        raise NotFoundError(f"no portal session {session_id!r}", code="not_found")
    return portal


@struct(frozen=True, kw_only=True)
class PortalVisit:
    """A visit of a portal link: `used` when another browser already opened it; `new_key` the key
    the browser that opens it first must keep (None when it already holds it)."""

    portal: PortalSession
    used: bool
    new_key: str | None = None


def visit_portal(store: Store, now: datetime, session_id: str, browser_key: str | None, *,
                 open_link: bool = True) -> PortalVisit:
    """The portal URL is one-time (002): the first visit opens it for that browser (the key it is
    given comes back as a cookie on its later requests, e.g. after a Cancel); any other visit is used.
    `open_link=False` only asks (a button checks its input before the visit counts)."""
    portal = require_portal(store, session_id)
    if portal.browser_key is None:
        if open_link:
            portal.opened_at, portal.browser_key = now, store.ids.alnum(24)
        return PortalVisit(portal=portal, used=False, new_key=portal.browser_key)
    return PortalVisit(portal=portal, used=browser_key != portal.browser_key)


# --- checkout outcomes ---------------------------------------------------------------------------


def complete_checkout(store: Store, now: datetime, session_id: str, *, card: str | None = None) -> Outcome:
    """Pay an open checkout. A magic decline card or e-mail declines it instead (see README).

    Paid: a lifetime price makes one succeeded payment (`payment.completed`); a subscription price
    makes an active subscription and its first payment (`payment.completed`, `subscription.created`),
    or a trialing one with no charge (`subscription.created`) when the session carries trial days.
    Token grants follow every payment. With `ignoreActivePurchase` the user's previous live
    subscriptions on the paywall end right after the new one exists (`subscription.cancelled`).
    """
    session = _require_open(store, now, session_id)
    paywall, price, user = _parties(store, session)
    acquirer = acquirer_for(paywall.acquirer)
    card_fx = acquirer.card_effect(card)
    if card_fx is not None and card_fx[0] == "decline":
        return _decline(store, now, session, card_fx[1])
    if email_effect(user.email) == "decline":
        return _decline(store, now, session, "card_declined")
    if not session.ignore_active_purchase and has_access(store, paywall, user):
        raise ConflictError("the user already has an active purchase on this paywall (a second checkout pays only "
                            "when started with ignoreActivePurchase)", code="invalid_state")
    fail_renewals = (card_fx is not None and card_fx[0] == "fail_renewals") or \
        email_effect(user.email) == "fail_renewals"
    mark = len(store.events)
    replaced = [s for s in store.subscriptions_of(user.id, paywall.id) if is_live(s)]
    session.status, session.completed_at = "paid", now
    outcome = Outcome(checkout=session)
    if price.is_lifetime:
        payment = _new_payment(store, now, paywall, user, price, checkout=session)
        session.payment_id = payment.id
        emit(store, now, "payment.completed", paywall_id=paywall.id, user_id=user.id, price_id=price.id,
             payment=payment)
        grant_for_payment(store, now, paywall, user.id, price.interval)
        outcome.payment = payment
    else:
        outcome.subscription, outcome.payment = _start_subscription(store, now, session, paywall, price, user,
                                                                    fail_renewals=fail_renewals)
    for old in replaced:  # the upgrade path: the old plan ends once the new one is paid for
        old.cancellation_reason = "replaced by a new checkout (ignoreActivePurchase)"
        outcome.transitions.append(end_now(store, now, old))
    outcome.redirect_url = _return_url(session, "paid")
    outcome.events = store.events[mark:]
    return outcome


def decline_checkout(store: Store, now: datetime, session_id: str, *, reason: str = "card_declined") -> Outcome:
    """The card is declined: no payment, no subscription, no event; the buyer goes to the error URL."""
    return _decline(store, now, _require_open(store, now, session_id), reason)


def cancel_checkout(store: Store, now: datetime, session_id: str) -> Outcome:
    """The buyer leaves the checkout page: nothing is charged; back to the error URL, `cancelled`."""
    session = _require_open(store, now, session_id)
    session.status, session.completed_at = "cancelled", now
    store.end_checkout(session)
    return Outcome(checkout=session, redirect_url=_return_url(session, "cancelled"))


def expire_checkouts(store: Store, at: datetime) -> list[Transition]:
    """Open sessions older than `CHECKOUT_LIFETIME` expire (each as of its own expiry instant)."""
    done: list[Transition] = []
    ended: list[CheckoutSession] = []
    for session in _open_checkouts(store):
        expired_at = session.created_at + CHECKOUT_LIFETIME
        if expired_at > at:
            break
        session.status, session.completed_at = "expired", expired_at
        ended.append(session)
        done.append(CheckoutExpired(kind="checkout.expired", at=expired_at, checkout_id=session.id,
                                    paywall_id=session.paywall_id, status=session.status))
    for session in ended:  # after the walk over the open ones: ending may drop old unpaid checkouts
        store.end_checkout(session)
    return done


def next_checkout_expiry(store: Store) -> datetime | None:
    first = next(_open_checkouts(store), None)
    return first.created_at + CHECKOUT_LIFETIME if first is not None else None


def _open_checkouts(store: Store) -> Iterator[CheckoutSession]:
    """Open sessions, oldest first (creation order is expiry order: the clock never goes back); sessions
    no longer open leave the index as they are met, so the scheduler never scans every checkout."""
    index = store.open_checkouts
    gone = 0
    try:
        for session_id in index:  # one pass: each new iterator would step over every entry deleted before
            session = store.checkouts.get(session_id)
            if session is not None and session.status == "open":
                yield session
                if session.status == "open":  # the caller stopped at it (not due yet)
                    return
            gone += 1
    finally:
        if gone:
            # Drop the leading entries met closed, in place (a move that expires one checkout per step
            # must not copy the whole index per step); once the holes they leave outnumber the entries,
            # a fresh dict, since every iteration steps over the holes of the deleted front.
            for session_id in list(islice(index, gone)):
                del index[session_id]
            store.open_checkout_holes += gone
            if store.open_checkout_holes > len(index):
                store.open_checkouts, store.open_checkout_holes = dict(index), 0


def current_checkout(store: Store, now: datetime, session_id: str) -> CheckoutSession:
    """The session as of `now`: open sessions past their lifetime are expired first (404 if unknown)."""
    session = require_checkout(store, session_id)
    expire_checkouts(store, now)
    return session


def _require_open(store: Store, now: datetime, session_id: str) -> CheckoutSession:
    session = current_checkout(store, now, session_id)
    if session.status != "open":
        raise ConflictError(f"checkout {session_id} is {session.status}; only an open checkout can be paid, "
                            "declined or cancelled", code="invalid_state")
    return session


def _parties(store: Store, session: CheckoutSession) -> tuple[Paywall, Price, User]:
    return store.paywalls[session.paywall_id], store.prices[session.price_id], store.users[session.user_id]


def _decline(store: Store, now: datetime, session: CheckoutSession, reason: str) -> Outcome:
    session.status, session.completed_at, session.outcome_reason = "declined", now, reason
    store.end_checkout(session)
    return Outcome(checkout=session, redirect_url=_return_url(session, "failed"))


def _return_url(session: CheckoutSession, status: str) -> str | None:
    """Where the acquirer sends the buyer: the success URL (paid) or the error URL (failed,
    cancelled), markers in the hash like the SDK's e2e runs see them. Freemius sends nobody back."""
    if not acquirer_for(session.acquirer).redirects_on_success:
        return None
    base = session.success_url if status == "paid" else session.error_url
    if not base:
        return None
    markers = urlencode({"paywall_status": status, "paywall_price_id": session.price_id,
                         "paywall_session_id": session.id})
    url, _, fragment = base.partition("#")
    return f"{url}#{fragment}&{markers}" if fragment else f"{url}#{markers}"


def _start_subscription(store: Store, now: datetime, session: CheckoutSession, paywall: Paywall, price: Price,
                        user: User, *, fail_renewals: bool) -> tuple[Subscription, Payment | None]:
    link = store.link(user.id, paywall.id)
    # Trial anti-abuse holds at payment time too: another trial may have started since the session did.
    trial_days = session.trial_days if session.trial_days and not (link and link.had_trial) else None
    acquirer = acquirer_for(paywall.acquirer)
    trial_end = now + timedelta(days=trial_days) if trial_days else None
    sub = Subscription(
        id=acquirer.subscription_id(store.ids), paywall_id=paywall.id, user_id=user.id, price_id=price.id,
        status="trialing" if trial_end else "active", created=now, current_period_start=now,
        current_period_end=trial_end or add_interval(now, price.interval, price.interval_count),
        trial_start=now if trial_end else None, trial_end=trial_end, fail_renewals=fail_renewals,
        checkout_id=session.id)
    store.add_subscription(sub)
    schedule(store, sub)
    session.subscription_id = sub.id
    if trial_end is not None:
        if link is not None:
            link.had_trial = True
        emit(store, now, "subscription.created", paywall_id=paywall.id, user_id=user.id, price_id=price.id,
             subscription=sub)
        return sub, None
    payment = _new_payment(store, now, paywall, user, price, checkout=session, subscription=sub)
    session.payment_id = payment.id
    emit(store, now, "payment.completed", paywall_id=paywall.id, user_id=user.id, price_id=price.id,
         payment=payment, subscription=sub)
    emit(store, now, "subscription.created", paywall_id=paywall.id, user_id=user.id, price_id=price.id,
         subscription=sub)
    grant_for_payment(store, now, paywall, user.id, price.interval)
    return sub, payment


def _new_payment(store: Store, at: datetime, paywall: Paywall, user: User, price: Price, *,
                 checkout: CheckoutSession | None = None, subscription: Subscription | None = None,
                 failed: bool = False) -> Payment:
    offer = store.offers.get(checkout.offer_id) if checkout is not None and checkout.offer_id else None
    discount = offer.discount_percent if offer is not None else None
    amount = round(price.unit_amount * (100 - discount) / 100) if discount else price.unit_amount
    payment = Payment(
        id=acquirer_for(paywall.acquirer).payment_id(store.ids), paywall_id=paywall.id, user_id=user.id,
        price_id=price.id, amount=amount, currency=price.currency, discount_percent=discount,
        status="failed" if failed else "succeeded", created=at,
        subscription_id=subscription.id if subscription else None, checkout_id=checkout.id if checkout else None)
    store.add_payment(payment)
    return payment


# --- subscriptions over time -----------------------------------------------------------------------


def due_at(sub: Subscription) -> datetime | None:
    """When the subscription next needs the scheduler: its period (or trial) end, or the retry of a
    failed renewal; None once it has ended."""
    if not is_live(sub):
        return None
    if sub.status == "past_due":
        return sub.current_period_end + RENEWAL_RETRY_AFTER
    return sub.current_period_end


def schedule(store: Store, sub: Subscription) -> None:
    """File the subscription's next due instant in the index: when it is created and whenever a charge sets
    its period end (a renew-now can move it earlier). Changes that only move it later or end it need no
    call: `next_period_end` re-files or drops such entries when it meets them."""
    due = due_at(sub)
    if due is not None:
        heapq.heappush(store.subscription_due, (due, sub.created, sub.id))
        store.due_filed += 1


def next_period_end(store: Store) -> datetime | None:
    """The earliest due instant of any subscription, from the index: an entry whose subscription is now
    due later is re-filed, one that is no longer due at all is dropped (amortised O(log n), no scan)."""
    heap = store.subscription_due
    while heap:
        filed, created, sub_id = heap[0]
        sub = store.subscriptions.get(sub_id)
        actual = due_at(sub) if sub is not None else None
        if actual == filed:
            return filed
        heapq.heappop(heap)
        if sub is not None and actual is not None:
            heapq.heappush(heap, (actual, created, sub_id))
    return None


def run_period_ends(store: Store, at: datetime) -> list[Transition]:
    """Everything due at or before `at`, subscription by subscription in due order, each step as of
    its own due instant."""
    done: list[Transition] = []
    while (due := next_period_end(store)) is not None and due <= at:
        _, _, sub_id = heapq.heappop(store.subscription_due)
        sub = store.subscriptions[sub_id]
        done += settle(store, at, sub)
        schedule(store, sub)
    return done


def settle(store: Store, until: datetime, sub: Subscription) -> list[Transition]:
    """Run this subscription's period ends due at or before `until`, oldest first. Called before any
    operation on a subscription, so its events stay in time order whatever ran the catch-up."""
    done: list[Transition] = []
    while (due := due_at(sub)) is not None and due <= until:
        done.append(_period_end(store, due, sub))
    return done


def _period_end(store: Store, at: datetime, sub: Subscription) -> SubscriptionStep:
    if sub.cancel_at_period_end:
        return end_now(store, at, sub)
    if sub.status == "past_due":
        return retry_renewal(store, at, sub)
    return charge_renewal(store, at, sub, period_start=sub.current_period_end)


def charge_renewal(store: Store, at: datetime, sub: Subscription, *, period_start: datetime) -> SubscriptionStep:
    """Charge the next period. Paid: `payment.completed` + `subscription.updated` (a trial turns
    active). Failed: `past_due` and `subscription.updated`, the charge retried `RENEWAL_RETRY_AFTER` later."""
    paywall, price, user = store.paywalls[sub.paywall_id], store.prices[sub.price_id], store.users[sub.user_id]
    was = sub.status
    fails = sub.fail_next_renewal or sub.fail_renewals
    sub.fail_next_renewal = False
    # Until the checkout has its paid charge (after a trial: the trial-end one, or its retry), the charge
    # belongs to the checkout and gets its offer.
    checkout = store.checkouts.get(sub.checkout_id) if sub.checkout_id else None
    if checkout is not None and checkout.payment_id is not None:
        checkout = None
    payment = _new_payment(store, at, paywall, user, price, checkout=checkout, subscription=sub, failed=fails)
    if was == "trialing":
        sub.trial_end = at
    if fails:
        # The unpaid period would have started at `period_start`: the paid one ends there (a no-op at a
        # scheduled period end; for renew-now it ends now), so the retry is due RENEWAL_RETRY_AFTER later.
        sub.status = "past_due"
        sub.current_period_end = period_start
        schedule(store, sub)  # renew-now moves the due instant earlier: the index must hear of it
        emit_subscription_updated(store, at, sub)
        return _transition("subscription.renewal_failed", at, sub, payment=payment)
    if checkout is not None:
        checkout.payment_id = payment.id
    sub.status = "active"
    sub.current_period_start = period_start
    sub.current_period_end = add_interval(period_start, price.interval, price.interval_count)
    schedule(store, sub)
    emit(store, at, "payment.completed", paywall_id=paywall.id, user_id=user.id, price_id=price.id,
         payment=payment, subscription=sub)
    emit_subscription_updated(store, at, sub)
    grant_for_payment(store, at, paywall, user.id, price.interval)
    kind = "subscription.trial_ended" if was == "trialing" else "subscription.renewed"
    return _transition(kind, at, sub, payment=payment)


def retry_renewal(store: Store, at: datetime, sub: Subscription) -> SubscriptionStep:
    """The second charge of a failed renewal: paid, a new period starts now; failed again, it ends."""
    if sub.fail_next_renewal or sub.fail_renewals:
        sub.fail_next_renewal = False
        paywall, price, user = store.paywalls[sub.paywall_id], store.prices[sub.price_id], store.users[sub.user_id]
        _new_payment(store, at, paywall, user, price, subscription=sub, failed=True)
        sub.cancellation_reason = "renewal payment failed"
        return end_now(store, at, sub)
    return charge_renewal(store, at, sub, period_start=at)


def end_now(store: Store, at: datetime, sub: Subscription) -> SubscriptionStep:
    """The subscription ends now: access stops, `subscription.cancelled`."""
    sub.status = "canceled"
    sub.ended_at = at
    sub.canceled_at = sub.canceled_at or at
    emit(store, at, "subscription.cancelled", paywall_id=sub.paywall_id, user_id=sub.user_id,
         price_id=sub.price_id, subscription=sub)
    return _transition("subscription.ended", at, sub)


def _transition(kind: str, at: datetime, sub: Subscription, *, payment: Payment | None = None) -> SubscriptionStep:
    if payment is not None:
        return SubscriptionCharge(kind=kind, at=at, subscription_id=sub.id, paywall_id=sub.paywall_id,
                                  status=sub.status, current_period_end=sub.current_period_end,
                                  payment_id=payment.id, payment_status=payment.status)
    return SubscriptionStep(kind=kind, at=at, subscription_id=sub.id, paywall_id=sub.paywall_id, status=sub.status,
                            current_period_end=sub.current_period_end)


def emit_subscription_updated(store: Store, at: datetime, sub: Subscription) -> None:
    """`subscription.updated`, and Paddle's quirk: sometimes the very same event (same id, identical
    data) is sent again. The coin is a hash of the seed, the subscription id and how many updates it
    had before, so a seed replays the same duplicates, and a subscription's pattern does not depend on
    the rest of the world's activity; a paywall setting `paddle_duplicate_updates: false` turns it off."""
    earlier = store.update_counts.get(sub.id, 0)
    event = emit(store, at, "subscription.updated", paywall_id=sub.paywall_id, user_id=sub.user_id,
                 price_id=sub.price_id, subscription=sub)
    paywall = store.paywalls[sub.paywall_id]
    probability = acquirer_for(paywall.acquirer).duplicate_update_probability
    if probability and paywall.settings.get("paddle_duplicate_updates", True) is not False \
            and _coin(store.seed, f"{sub.id}:{earlier}") < probability:
        store.record_event(replace(event))  # the same snapshot: it is never changed


def _coin(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by the seed and the key alone."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
