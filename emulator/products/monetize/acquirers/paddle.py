"""Paddle Billing: `txn_01…` transactions, `sub_01…` subscriptions, sandbox hosted checkout, a
hosted portal, and its documented quirk — `subscription.updated` sometimes delivered twice with
identical data (seeded coin flip; consumers must dedupe by event id). Pure code."""

from __future__ import annotations

from ....engine.ids import IdFactory
from ..models import AcquirerName, Paywall, Price
from .base import GenericAcquirer


class Paddle(GenericAcquirer):
    name: AcquirerName = "paddle"
    display_name = "Paddle Billing"
    brand_color = "#1f2937"
    duplicate_update_probability = 0.5

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str:
        return f"txn_01{ids.alnum(24, lower=True)}"

    def subscription_id(self, ids: IdFactory) -> str:
        return f"sub_01{ids.alnum(24, lower=True)}"

    def payment_id(self, ids: IdFactory) -> str:
        return f"txn_01{ids.alnum(24, lower=True)}"

    def refund_id(self, ids: IdFactory) -> str:
        return f"adj_01{ids.alnum(24, lower=True)}"

    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str:
        host = "sandbox-buy.paddle.com" if paywall.test_mode else "buy.paddle.com"
        return f"https://{host}/checkout?_ptxn={session_id}"

    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str:
        host = "sandbox-customer-portal.paddle.com" if paywall.test_mode else "customer-portal.paddle.com"
        return f"https://{host}/cpl_01{ids.alnum(24, lower=True)}"
