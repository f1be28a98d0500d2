"""Operations on existing subscriptions and their payments: the public API's cancel at period end,
the hosted portal's Cancel, and the control API's renew now, fail the next renewal, expire and refund.

Public cancel rules: the subscription must belong to the user on that paywall (else 404 "Subscription not
found"); a second cancel, or a cancel of an ended one, is 400 "Subscription is already cancelled"; a
cancel keeps access until the period ends (`cancel_at` = period end) and emits `subscription.updated`
now; the billing scheduler (`domain.scheduler`) ends it with `subscription.cancelled` at that instant.
The control operations refuse with the control API's codes (404 `not_found`, 409 `invalid_state`) and
answer a `lifecycle.Outcome`; the period steps they run are `domain.lifecycle`'s. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime

from ....engine.product import Transition
from ..acquirers import acquirer_for
from ..errors import BadRequestError, ConflictError, NotFoundError
from ..models import Paywall, Refund, Subscription, User
from ..state import Store
from .events import emit
from .lifecycle import (
    Outcome,
    SubscriptionCharge,
    can_cancel,
    charge_renewal,
    due_at,
    emit_subscription_updated,
    end_now,
    is_live,
    require_payment,
    require_portal,
    require_subscription,
    retry_renewal,
    settle,
)


def find_owned(store: Store, paywall: Paywall, user: User, subscription_id: str) -> Subscription:
    sub = store.subscriptions.get(subscription_id)
    if sub is None or sub.user_id != user.id or sub.paywall_id != paywall.id:
        raise NotFoundError("Subscription not found", code="subscription_not_found", error="Subscription not found")
    return sub


def find_for_session(store: Store, user: User, subscription_id: str) -> Subscription:
    """The Bearer path of a cancel: the session's user must own the subscription (any paywall)."""
    sub = store.subscriptions.get(subscription_id)
    if sub is None or sub.user_id != user.id:
        raise NotFoundError("Subscription not found", code="subscription_not_found", error="Subscription not found")
    return sub


def cancel_at_period_end(store: Store, now: datetime, paywall: Paywall, user: User, subscription_id: str,
                         reason: str) -> Subscription:
    sub = find_owned(store, paywall, user, subscription_id)
    settle(store, now, sub)  # a period end that fell due first happens first
    if sub.cancel_at_period_end or sub.status == "canceled" or sub.ended_at is not None:
        raise BadRequestError("Subscription is already cancelled", code="already_cancelled",
                              error="Subscription is already cancelled")
    schedule_cancel(store, now, sub, reason)
    return sub


# --- operations on existing subscriptions (control API, portal) ------------------------------------------


def _require_live(store: Store, now: datetime, subscription_id: str) -> tuple[Subscription, list[Transition]]:
    sub = require_subscription(store, subscription_id)
    caught_up = settle(store, now, sub)
    if not is_live(sub):
        raise ConflictError(f"subscription {subscription_id} is {sub.status}; it has ended", code="invalid_state")
    return sub, caught_up


def renew_now(store: Store, now: datetime, subscription_id: str) -> Outcome:
    """Bill the next period now (a trial ends early; a `past_due` one retries its charge)."""
    mark = len(store.events)
    sub, caught_up = _require_live(store, now, subscription_id)
    if sub.cancel_at_period_end:
        raise ConflictError(f"subscription {subscription_id} is set to cancel at period end; it does not renew",
                            code="invalid_state")
    if sub.status == "past_due":
        step = retry_renewal(store, now, sub)
    else:
        step = charge_renewal(store, now, sub, period_start=now)
    payment = store.payments[step.payment_id] if isinstance(step, SubscriptionCharge) else None
    return Outcome(subscription=sub, payment=payment, events=store.events[mark:], transitions=[*caught_up, step])


def fail_next_renewal(store: Store, now: datetime, subscription_id: str) -> Outcome:
    """Make the next renewal charge fail (once); nothing is sent until that renewal happens."""
    mark = len(store.events)
    sub, caught_up = _require_live(store, now, subscription_id)
    sub.fail_next_renewal = True
    return Outcome(subscription=sub, events=store.events[mark:], transitions=caught_up)


def expire(store: Store, now: datetime, subscription_id: str) -> Outcome:
    """End the subscription immediately, as if the acquirer cancelled it: `subscription.cancelled`."""
    mark = len(store.events)
    sub, caught_up = _require_live(store, now, subscription_id)
    sub.cancellation_reason = sub.cancellation_reason or "expired"
    step = end_now(store, now, sub)
    return Outcome(subscription=sub, events=store.events[mark:], transitions=[*caught_up, step])


def schedule_cancel(store: Store, now: datetime, sub: Subscription, reason: str) -> None:
    """Cancel at period end: access stays until then (`cancel_at`), `subscription.updated` now and
    `subscription.cancelled` when the period ends. Callers have checked the subscription is live."""
    sub.cancel_at_period_end = True
    # A past_due subscription's period already ended: it keeps access until its retry is due and ends
    # then, uncharged.
    sub.cancel_at = due_at(sub) or sub.current_period_end
    sub.cancellation_reason = reason
    emit_subscription_updated(store, now, sub)


def cancel_in_portal(store: Store, now: datetime, portal_session_id: str, subscription_id: str) -> Subscription:
    """The hosted portal's Cancel button: the subscription must be the session user's on its paywall."""
    portal = require_portal(store, portal_session_id)
    sub = store.subscriptions.get(subscription_id)
    if sub is None or sub.user_id != portal.user_id or sub.paywall_id != portal.paywall_id:
        raise NotFoundError(f"no subscription {subscription_id!r} in this portal session", code="not_found")
    settle(store, now, sub)
    if not can_cancel(sub):
        raise ConflictError(f"subscription {subscription_id} is already cancelled", code="invalid_state")
    schedule_cancel(store, now, sub, "cancelled in the customer portal")
    return sub


# --- refunds -----------------------------------------------------------------------------------------


def refund(store: Store, now: datetime, payment_id: str, *, amount: int | None = None,
           reason: str | None = None) -> Outcome:
    """Refund a succeeded payment, fully (default) or partly: `refund.created`. A full refund takes back
    what the payment bought: a lifetime purchase stops granting access, and the subscription it paid
    for ends now (`subscription.cancelled`). A partial refund changes no access. Tokens already granted
    are kept."""
    payment = require_payment(store, payment_id)
    if payment.status != "succeeded":
        raise ConflictError(f"payment {payment_id} is {payment.status}; only a succeeded payment can be refunded",
                            code="invalid_state")
    remaining = payment.amount - payment.refunded_amount
    amount = remaining if amount is None else amount
    if amount < 1 or amount > remaining:
        raise BadRequestError(f"amount must be between 1 and {remaining} (minor units not yet refunded)",
                              code="invalid_request")
    mark = len(store.events)
    sub = store.subscriptions.get(payment.subscription_id) if payment.subscription_id else None
    caught_up = settle(store, now, sub) if sub is not None else []
    acquirer = acquirer_for(store.paywalls[payment.paywall_id].acquirer)
    created = Refund(id=acquirer.refund_id(store.ids), payment_id=payment.id, amount=amount,
                     currency=payment.currency, status="succeeded", reason=reason, created=now)
    store.refunds[created.id] = created
    payment.refunded_amount += amount
    if payment.refunded_amount >= payment.amount:
        payment.status = "refunded"
    emit(store, now, "refund.created", paywall_id=payment.paywall_id, user_id=payment.user_id,
         price_id=payment.price_id, payment=payment, refund=created, subscription=sub)
    steps = list(caught_up)
    if payment.status == "refunded" and sub is not None and is_live(sub):
        sub.cancellation_reason = "payment refunded"
        steps.append(end_now(store, now, sub))
    return Outcome(subscription=sub, payment=payment, refund=created, events=store.events[mark:],
                   transitions=steps)
