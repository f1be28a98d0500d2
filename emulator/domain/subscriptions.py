"""Subscriptions: looking them up for a user and cancelling at period end.

Cancel rules: the subscription must belong to the user on that paywall (else 404 "Subscription not
found"); a second cancel is 400 "Subscription is already cancelled"; a cancel keeps access until
the period ends (`cancel_at` = period end) and emits `subscription.updated` now. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import BadRequestError, NotFoundError
from ..models import Paywall, Subscription, User
from ..state import Store
from .events import emit


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
    if sub.cancel_at_period_end or sub.status == "canceled" or sub.ended_at is not None:
        raise BadRequestError("Subscription is already cancelled", code="already_cancelled",
                              error="Subscription is already cancelled")
    sub.cancel_at_period_end = True
    sub.cancel_at = sub.current_period_end
    sub.cancellation_reason = reason
    emit(store, now, "subscription.updated", paywall_id=paywall.id, user_id=user.id, price_id=sub.price_id,
         subscription=sub)
    return sub
