"""Overpay: checkout, portal and cancel with the generic event sequence. Pure code."""

from __future__ import annotations

from ....engine.ids import IdFactory
from ..models import AcquirerName, Paywall, Price
from .base import GenericAcquirer


class Overpay(GenericAcquirer):
    name: AcquirerName = "overpay"

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str:
        return f"ovp_{ids.alnum(28, lower=True)}"

    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str:
        host = "sandbox.overpay.io" if paywall.test_mode else "pay.overpay.io"
        return f"https://{host}/checkout/{session_id}"

    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str:
        host = "sandbox.overpay.io" if paywall.test_mode else "pay.overpay.io"
        return f"https://{host}/portal/{ids.alnum(28, lower=True)}"
