"""Stripe: `cs_test_…` checkout sessions on checkout.stripe.com, `sub_…`/`pi_…` ids, a hosted
billing portal, hash-marker redirects. Pure code."""

from __future__ import annotations

from ..ids import IdFactory
from ..models import AcquirerName, Paywall, Price
from .base import GenericAcquirer


class Stripe(GenericAcquirer):
    name: AcquirerName = "stripe"

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str:
        return f"cs_{'test' if paywall.test_mode else 'live'}_{ids.alnum(58)}"

    def subscription_id(self, ids: IdFactory) -> str:
        return f"sub_{ids.alnum(24)}"

    def payment_id(self, ids: IdFactory) -> str:
        return f"pi_{ids.alnum(24)}"

    def refund_id(self, ids: IdFactory) -> str:
        return f"re_{ids.alnum(24)}"

    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str:
        return f"https://checkout.stripe.com/c/pay/{session_id}"

    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str:
        mode = "test_" if paywall.test_mode else ""
        return f"https://billing.stripe.com/p/session/{mode}{ids.alnum(32)}"
