"""Freemius: numeric ids, checkout URL with `user_email` prefilled (`sandbox=true` in test mode),
no redirect to the success URL (success is visible only via user/user-state and webhooks), no
hosted portal (403), cancel through the API only. Pure code."""

from __future__ import annotations

from ....engine.ids import IdFactory
from ..models import AcquirerName, Paywall, Price
from .base import GenericAcquirer, query


class Freemius(GenericAcquirer):
    name: AcquirerName = "freemius"
    display_name = "Freemius Checkout"
    brand_color = "#0b84c6"
    has_portal = False
    redirects_on_success = False

    def session_id(self, ids: IdFactory, paywall: Paywall) -> str:
        return ids.digits(9)

    def subscription_id(self, ids: IdFactory) -> str:
        return ids.digits(7)

    def payment_id(self, ids: IdFactory) -> str:
        return ids.digits(8)

    def refund_id(self, ids: IdFactory) -> str:
        return ids.digits(8)

    def hosted_query(self, paywall: Paywall, email: str, price: Price) -> dict[str, str]:
        params = {"user_email": email, "readonly_user": "true",
                  "billing_cycle": "annual" if price.interval == "year" else
                  ("lifetime" if price.is_lifetime else "monthly")}
        if paywall.test_mode:
            params["sandbox"] = "true"
        return params

    def checkout_url(self, paywall: Paywall, session_id: str, email: str, price: Price) -> str:
        base = f"https://checkout.freemius.com/product/{paywall.acquirer_ref}/plan/{price.id}/"
        return base + query({**self.hosted_query(paywall, email, price), "session": session_id})
