"""The access rule: who has paid for a paywall. A leaf read helper over entities, shared by the
domain (refusing a second purchase) and `views` (the `has_active_subscription`/`paid` flags).
Imports entities only: no `views`, no other domain module, no aiohttp.
"""

from __future__ import annotations

from ..models import Paywall, User
from ..state import Store


def has_access(store: Store, paywall: Paywall, user: User) -> bool:
    """Active (or trialing) subscription, or a paid lifetime purchase."""
    if any(s.is_active for s in store.subscriptions_of(user.id, paywall.id)):
        return True
    return any(p.subscription_id is None and p.status == "succeeded"
               for p in store.payments_of(user.id, paywall.id))
