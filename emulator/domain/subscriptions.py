"""Subscriptions: looking them up for a user and cancelling at period end.

Cancel rules: the subscription must belong to the user on that paywall (else 404 "Subscription not
found"); a second cancel, or a cancel of an ended one, is 400 "Subscription is already cancelled"; a
cancel keeps access until the period ends (`cancel_at` = period end) and emits `subscription.updated`
now; the billing scheduler (`domain.scheduler`) ends it with `subscription.cancelled` at that instant. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import BadRequestError, NotFoundError
from ..models import Paywall, Subscription, User
from ..state import Store
from .lifecycle import schedule_cancel, settle


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
