"""The billing `DueSource`s `World.catch_up` interleaves with the webhook retries: subscription
period ends (renewals, trial ends, scheduled cancellations, failed-renewal retries) and checkout
expiry. Both are foreground sources: every request's catch-up runs what became due on the emulator
clock, so moving time (control API, freezegun, time-machine) is all it takes. The rules live in
`domain.lifecycle`; this module only says when. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime

from ....engine.product import Transition
from ..state import Store
from . import lifecycle


class SubscriptionPeriods:
    """Period ends of live subscriptions, each run as of its own due instant."""

    background = False

    def next_due(self, store: Store) -> datetime | None:
        return lifecycle.next_period_end(store)

    async def run_due(self, store: Store, at: datetime) -> list[Transition]:
        return lifecycle.run_period_ends(store, at)


class CheckoutExpiry:
    """Open checkout sessions expire `lifecycle.CHECKOUT_LIFETIME` after they were started."""

    background = False

    def next_due(self, store: Store) -> datetime | None:
        return lifecycle.next_checkout_expiry(store)

    async def run_due(self, store: Store, at: datetime) -> list[Transition]:
        return lifecycle.expire_checkouts(store, at)


def billing_sources() -> list[SubscriptionPeriods | CheckoutExpiry]:
    """Fresh sources for one `World` (they hold no state; the store is passed in)."""
    return [SubscriptionPeriods(), CheckoutExpiry()]
