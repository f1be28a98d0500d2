"""Stripe: `cs_test_…` checkout sessions on checkout.stripe.com, `sub_…`/`pi_…` ids, a hosted
billing portal, hash-marker redirects. Pure code."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ....engine.ids import IdFactory
from ..models import AcquirerName, Paywall, Price
from .base import GENERIC_CARDS, CardEffect, GenericAcquirer


class Stripe(GenericAcquirer):
    name: AcquirerName = "stripe"
    display_name = "Stripe Checkout"
    brand_color = "#635bff"
    # Stripe also has a dedicated insufficient-funds decline card.
    test_cards: Mapping[str, tuple[CardEffect, str]] = MappingProxyType(
        {**GENERIC_CARDS, "4000000000009995": ("decline", "insufficient_funds")})

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
