"""The `Acquirer` protocol and a generic implementation the concrete acquirers refine.

An acquirer decides how its ids and URLs look, whether it has a hosted portal, whether it
redirects to the success URL, and its webhook quirks. Pure code: no aiohttp, no I/O.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlencode

from ..ids import IdFactory
from ..models import AcquirerName, Paywall, Price


class Acquirer(Protocol):
    name: AcquirerName
    has_portal: bool
    redirects_on_success: bool
    # Probability that a subscription.updated is delivered a second time with identical data.
    duplicate_update_probability: float

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str: ...
    def subscription_id(self, ids: IdFactory) -> str: ...
    def payment_id(self, ids: IdFactory) -> str: ...
    def refund_id(self, ids: IdFactory) -> str: ...
    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str: ...
    def hosted_query(self, paywall: Paywall, email: str, price: Price) -> dict[str, str]: ...
    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str: ...


class GenericAcquirer:
    name: AcquirerName = "overpay"
    has_portal = True
    redirects_on_success = True
    duplicate_update_probability = 0.0

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str:
        return f"{self.name[:2]}_cs_{ids.alnum(24)}"

    def subscription_id(self, ids: IdFactory) -> str:
        return f"{self.name[:2]}_sub_{ids.alnum(20)}"

    def payment_id(self, ids: IdFactory) -> str:
        return f"{self.name[:2]}_pay_{ids.alnum(20)}"

    def refund_id(self, ids: IdFactory) -> str:
        return f"{self.name[:2]}_re_{ids.alnum(20)}"

    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str:
        return f"https://checkout.{self.name}.example/pay/{session_id}"

    def hosted_query(self, paywall: Paywall, email: str, price: Price) -> dict[str, str]:
        """Extra query parameters the emulator's own hosted page URL carries."""
        return {}

    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str:
        return f"https://portal.{self.name}.example/session/{ids.alnum(24)}"


def query(params: dict[str, str]) -> str:
    return f"?{urlencode(params)}" if params else ""
