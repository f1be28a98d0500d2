"""Chargebee: hosted pages on `<site>.chargebee.com`, portal sessions, generic events. Pure code."""

from __future__ import annotations

from ....engine.ids import IdFactory
from ..models import AcquirerName, Paywall, Price
from .base import GenericAcquirer


class Chargebee(GenericAcquirer):
    name: AcquirerName = "chargebee"
    display_name = "Chargebee"
    brand_color = "#ff5a1f"

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str:
        return f"hp_{ids.alnum(26)}"

    def subscription_id(self, ids: IdFactory) -> str:
        return f"AzZ{ids.alnum(14)}"

    def payment_id(self, ids: IdFactory) -> str:
        return f"txn_AzZ{ids.alnum(14)}"

    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str:
        site = f"acme{paywall.id}-test" if paywall.test_mode else f"acme{paywall.id}"
        return f"https://{site}.chargebee.com/pages/v3/{session_id}/"

    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str:
        site = f"acme{paywall.id}-test" if paywall.test_mode else f"acme{paywall.id}"
        return f"https://{site}.chargebee.com/portal/v2/access/{ids.alnum(32)}"
