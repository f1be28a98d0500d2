"""The fake Stripe behind PayKit's checkout and portal: checkout sessions (a $9 pack of 100 credits, or
Pro at $19/month), paying and cancelling them, portal sessions (the Stripe customer created on first use),
subscriptions that renew monthly on the emulator clock or end (at once or at the period end), session
expiry, and the events all of this sends to PayKit's webhook (recorded here with a snapshot of what
they are about; rendered by `views_stripe`, signed and posted by `delivery`). No aiohttp, no wire shapes.
"""

from __future__ import annotations

import copy
from calendar import monthrange
from datetime import datetime, timedelta

from ....engine.ids import IdFactory
from ....engine.product import Transition
from ....engine.structs import struct
from ..errors import STRIPE_NOT_CONFIGURED, refuse
from ..models import (
    CheckoutKind,
    CheckoutSession,
    CheckoutStatus,
    PortalSession,
    StripeEvent,
    StripeSnapshot,
    Subscription,
)
from ..state import PayKitState
from . import ledger
from .analytics import CREDIT_PACK_SIZE, CREDIT_PACK_USD, PRO_PRICE_USD
from .keys import Caller

SESSION_LIFETIME = timedelta(hours=24)
PRO_CENTS = PRO_PRICE_USD * 100  # a month of Pro
PACK_CENTS = CREDIT_PACK_USD * 100  # a pack of credits


@struct(frozen=True, kw_only=True)
class SubscriptionStep(Transition):
    """A Pro subscription's period end run while time passed (`paykit.subscription.renewed` / `.ended`)."""

    subscription_id: str
    project_id: str
    status: str
    current_period_end: datetime


@struct(frozen=True, kw_only=True)
class CheckoutExpired(Transition):
    """An open checkout session past its 24 hours (`paykit.checkout.expired`)."""

    checkout_id: str
    project_id: str


def require_stripe(state: PayKitState) -> None:
    if not state.stripe.configured:
        raise refuse(501, STRIPE_NOT_CONFIGURED)


def base_url(state: PayKitState, caller: Caller, origin: str) -> str:
    return (caller.project.base_url or state.base_url or origin).rstrip("/")


def start_checkout(state: PayKitState, ids: IdFactory, now: datetime, caller: Caller, user_id: str,
                   kind: CheckoutKind, *, origin: str) -> CheckoutSession:
    require_stripe(state)
    base = base_url(state, caller, origin)
    session = CheckoutSession(
        id=f"cs_test_{ids.alnum(58)}", project_id=caller.project.id, user_id=user_id, kind=kind,
        amount_cents=PRO_CENTS if kind == "pro" else PACK_CENTS,
        success_url=f"{base}/?paid=1", cancel_url=f"{base}/?canceled=1",
        webhook_url=state.webhook_url or f"{origin.rstrip('/')}/api/v1/webhook", created=now,
        expires_at=now + SESSION_LIFETIME)
    state.checkouts[session.id] = session
    state.open_checkouts[session.id] = session
    state.due_filed += 1
    return session


def current_checkout(state: PayKitState, now: datetime, session_id: str) -> CheckoutSession:
    """The session as of now (an open one past its expiry is expired first); 404 when unknown."""
    session = state.checkouts.get(session_id)
    if session is None:
        raise refuse(404, f"No such checkout session: {session_id}")
    if session.status == "open" and now >= session.expires_at:
        _close(state, session, "expired")
    return session


def _close(state: PayKitState, session: CheckoutSession, status: CheckoutStatus) -> None:
    session.status = status
    state.open_checkouts.pop(session.id, None)
    if status != "complete":
        state.end_checkout(session)


def metadata(session_or_sub: CheckoutSession | Subscription, *, pack: bool) -> dict[str, str]:
    scoped = f"{session_or_sub.project_id}:{session_or_sub.user_id}"
    return {"userId": scoped, "packCredits": str(CREDIT_PACK_SIZE)} if pack else {"userId": scoped, "plan": "pro"}


def pay_checkout(state: PayKitState, ids: IdFactory, now: datetime, session_id: str) -> CheckoutSession:
    """Pay an open session: a pack gets a payment intent, Pro a customer and a subscription; either way a
    `checkout.session.completed` is recorded for PayKit's webhook. 409 when the session is not open."""
    require_stripe(state)
    session = current_checkout(state, now, session_id)
    if session.status != "open":
        raise refuse(409, f"This checkout session is {session.status}")
    _close(state, session, "complete")
    if session.kind == "pro":
        session.customer_id = f"cus_{ids.alnum(14)}"
        sub = Subscription(id=f"sub_{ids.alnum(24)}", project_id=session.project_id, user_id=session.user_id,
                           customer_id=session.customer_id, webhook_url=session.webhook_url, created=now,
                           current_period_start=now, current_period_end=add_month(now, now))
        state.subscriptions[sub.id] = sub
        state.active_subscriptions[sub.id] = sub
        state.due_filed += 1
        session.subscription_id = sub.id
    else:
        session.payment_intent_id = f"pi_{ids.alnum(24)}"
    snapshot = StripeSnapshot(object="checkout.session", checkout=copy.copy(session),
                              metadata=metadata(session, pack=session.kind == "credits"))
    record(state, ids, now, "checkout.session.completed", snapshot, session.project_id, session.webhook_url)
    return session


def open_portal(state: PayKitState, ids: IdFactory, now: datetime, caller: Caller, user_id: str, *,
                origin: str) -> PortalSession:
    """A portal session for the account's Stripe customer, created (and stored on the account) if missing."""
    require_stripe(state)
    acct = ledger.account(state, caller.project.id, user_id)
    if acct.stripe_customer_id is None:
        acct.stripe_customer_id = f"cus_{ids.alnum(14)}"
    portal = PortalSession(id=f"bps_{ids.alnum(24)}", project_id=caller.project.id, user_id=user_id,
                           customer_id=acct.stripe_customer_id,
                           return_url=f"{base_url(state, caller, origin)}/?portal=1", created=now)
    state.portals[portal.id] = portal
    return portal


def require_portal(state: PayKitState, portal_id: str) -> PortalSession:
    portal = state.portals.get(portal_id)
    if portal is None:
        raise refuse(404, f"No such portal session: {portal_id}")
    return portal


def subscriptions_of(state: PayKitState, customer_id: str) -> list[Subscription]:
    return [s for s in state.subscriptions.values() if s.customer_id == customer_id]


def require_subscription(state: PayKitState, subscription_id: str) -> Subscription:
    sub = state.subscriptions.get(subscription_id)
    if sub is None:
        raise refuse(404, f"No such subscription: {subscription_id}")
    return sub


def cancel_subscription(state: PayKitState, ids: IdFactory, now: datetime, subscription_id: str, *,
                        at_period_end: bool = False, customer_id: str | None = None) -> Subscription:
    """End a subscription now (`customer.subscription.deleted`) or at its period end
    (`customer.subscription.updated`, the deletion follows when the period ends). `customer_id` limits
    the portal to its own customer's subscriptions. 409 when it already ended."""
    sub = require_subscription(state, subscription_id)
    if customer_id is not None and sub.customer_id != customer_id:
        raise refuse(404, f"No such subscription: {subscription_id}")
    if sub.status != "active":
        raise refuse(409, "This subscription has already ended")
    if at_period_end:
        sub.cancel_at_period_end = True
        sub.canceled_at = now
        record(state, ids, now, "customer.subscription.updated", _sub_snapshot(sub), sub.project_id, sub.webhook_url)
    else:
        _end(state, ids, now, sub)
    return sub


def _end(state: PayKitState, ids: IdFactory, at: datetime, sub: Subscription) -> None:
    sub.status = "canceled"
    state.active_subscriptions.pop(sub.id, None)
    sub.canceled_at = sub.canceled_at or at
    sub.ended_at = at
    record(state, ids, at, "customer.subscription.deleted", _sub_snapshot(sub), sub.project_id, sub.webhook_url)


def _sub_snapshot(sub: Subscription, *, invoice_id: str | None = None) -> StripeSnapshot:
    """The subscription as it is now (and the invoice a renewal paid, if any)."""
    return StripeSnapshot(object="subscription" if invoice_id is None else "invoice", subscription=copy.copy(sub),
                          invoice_id=invoice_id, metadata=metadata(sub, pack=False))


# --- time ----------------------------------------------------------------------------------------


def next_due(state: PayKitState) -> datetime | None:
    """When the fake Stripe next has work: a period end of an active subscription, or an open session's
    expiry."""
    instants = [s.current_period_end for s in state.active_subscriptions.values()]
    first_open = next(iter(state.open_checkouts.values()), None)
    if first_open is not None:
        instants.append(first_open.expires_at)
    return min(instants, default=None)


def run_due(state: PayKitState, ids: IdFactory, at: datetime) -> list[Transition]:
    """Everything due at or before `at`, each as of its own instant: a renewal (`invoice.paid`, the next
    period), an end at period end (`customer.subscription.deleted`), an expired session."""
    done: list[Transition] = []
    for sub in list(state.active_subscriptions.values()):
        while sub.status == "active" and sub.current_period_end <= at:
            end = sub.current_period_end
            if sub.cancel_at_period_end:
                _end(state, ids, end, sub)
                done.append(_step(sub, "paykit.subscription.ended", end))
                break
            sub.current_period_start = end
            sub.current_period_end = add_month(sub.created, end)
            sub.renewals += 1
            paid = _sub_snapshot(sub, invoice_id=f"in_{ids.alnum(24)}")
            record(state, ids, end, "invoice.paid", paid, sub.project_id, sub.webhook_url)
            done.append(_step(sub, "paykit.subscription.renewed", end))
    for session in list(state.open_checkouts.values()):
        if session.expires_at > at:
            break  # the rest expire later (creation order is expiry order)
        _close(state, session, "expired")
        done.append(CheckoutExpired(kind="paykit.checkout.expired", at=session.expires_at, checkout_id=session.id,
                                    project_id=session.project_id))
    return done


def _step(sub: Subscription, kind: str, at: datetime) -> SubscriptionStep:
    return SubscriptionStep(kind=kind, at=at, subscription_id=sub.id, project_id=sub.project_id, status=sub.status,
                            current_period_end=sub.current_period_end)


def add_month(anchor: datetime, start: datetime) -> datetime:
    """One month after `start`, on the anchor's day of month where the month has it (Jan 31 → Feb 28 →
    Mar 31), like Stripe's billing cycle anchor."""
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    day = min(anchor.day, monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day, hour=anchor.hour, minute=anchor.minute,
                         second=anchor.second, microsecond=anchor.microsecond)


# --- the outbox ----------------------------------------------------------------------------------


def record(state: PayKitState, ids: IdFactory, at: datetime, event_type: str, snapshot: StripeSnapshot,
           project_id: str, url: str) -> StripeEvent:
    """Queue an event for PayKit's webhook, due at `at`; its bytes are rendered from `snapshot` when first sent."""
    recorded = StripeEvent(id=f"evt_{ids.alnum(24)}", type=event_type, project_id=project_id, created=at, url=url,
                           next_attempt_at=at, data=snapshot)
    state.record_event(recorded)
    return recorded
