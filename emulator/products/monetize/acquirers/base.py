"""The `Acquirer` protocol and a generic implementation the concrete acquirers refine.

An acquirer decides how its ids and URLs look, whether it has a hosted portal, whether it
redirects back after checkout, its webhook quirks, its magic test values and how its hosted page
looks. Pure code: no aiohttp, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, Protocol
from urllib.parse import urlencode

from ....engine.ids import IdFactory
from ..models import AcquirerName, Paywall, Price

CardEffect = Literal["decline", "fail_renewals"]
EmailEffect = Literal["decline", "fail_renewals"]

# Magic test cards (digits only) and what they do, shared by every emulated acquirer: a decline at
# checkout, or a checkout that succeeds while every later renewal charge fails. Decline reasons are
# what the checkout records (`outcome_reason`).
GENERIC_CARDS: Mapping[str, tuple[CardEffect, str]] = MappingProxyType({
    "4000000000000002": ("decline", "card_declined"),
    "4000000000000341": ("fail_renewals", "card_declined"),
})


class Acquirer(Protocol):
    name: AcquirerName
    display_name: str
    brand_color: str  # the hosted page's accent, just enough to tell acquirers apart
    has_portal: bool
    # False: the acquirer never sends the buyer back with markers (Freemius); the hosted page then
    # only says to return to the merchant, and success shows up through user/user-state and webhooks.
    redirects_on_success: bool
    # Probability that a subscription.updated is delivered a second time with identical data.
    duplicate_update_probability: float
    test_cards: Mapping[str, tuple[CardEffect, str]]

    def card_effect(self, card: str | None) -> tuple[CardEffect, str] | None: ...

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str: ...
    def subscription_id(self, ids: IdFactory) -> str: ...
    def payment_id(self, ids: IdFactory) -> str: ...
    def refund_id(self, ids: IdFactory) -> str: ...
    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str: ...
    def hosted_query(self, paywall: Paywall, email: str, price: Price) -> dict[str, str]: ...
    def portal_url(self, ids: IdFactory, paywall: Paywall) -> str: ...


class GenericAcquirer:
    name: AcquirerName = "overpay"
    display_name = "Overpay"
    brand_color = "#0f766e"
    has_portal = True
    redirects_on_success = True
    duplicate_update_probability = 0.0
    test_cards: Mapping[str, tuple[CardEffect, str]] = GENERIC_CARDS

    def card_effect(self, card: str | None) -> tuple[CardEffect, str] | None:
        """What a magic test card does here (spaces and dashes ignored), or None for any other card."""
        digits = "".join(c for c in card or "" if c.isdigit())
        return self.test_cards.get(digits)

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


def email_effect(email: str | None) -> EmailEffect | None:
    """Magic e-mails, for every acquirer: `decline+…@…` is declined at checkout, `fail-renewal+…@…`
    pays the checkout and fails every renewal charge (the bare `decline@`/`fail-renewal@` too)."""
    local = (email or "").split("@", 1)[0].lower()
    tag = local.split("+", 1)[0]
    if tag == "decline":
        return "decline"
    if tag == "fail-renewal":
        return "fail_renewals"
    return None
