"""Handlers of user reads: the light access check (`user-state`) and the detailed `user`."""

from __future__ import annotations

from ..domain.balances import list_balances
from ..domain.identity import require_linked_user
from ..errors import IdentityNotOnPaywallError
from ..models import User
from ..routing import Call, Reply, operation
from ..views import render_paywall_user, render_user_details


@operation("getUserState")
async def get_user_state(call: Call) -> Reply:
    paywall, store = call.require_paywall(), call.store
    user: User | None
    if call.principal.user_id is not None:
        user = store.users[call.principal.user_id]
    else:
        email = call.headers.get("X-User-Email")
        user = store.user_by_email(email) if email else None
    if user is not None and store.link(user.id, paywall.id) is None:
        user = None  # an identity that never touched this paywall has the empty state here
    return Reply(body=render_paywall_user(store, paywall, user, call.world.now()))


@operation("getUser")
async def get_user(call: Call) -> Reply:
    paywall, store, now = call.require_paywall(), call.store, call.world.now()
    bearer_path = not call.principal.is_owner
    if bearer_path:
        user = store.users[str(call.principal.user_id)]
        if store.link(user.id, paywall.id) is None:
            raise IdentityNotOnPaywallError(error="identity_not_on_paywall")
    else:
        user = require_linked_user(store, paywall, email=call.query.get("email"),
                                   user_id=call.query.get("user_id"))
    balances = list_balances(store, now, paywall, user.id)
    return Reply(body=render_user_details(store, paywall, user, balances, with_profile=bearer_path))
