"""Handlers of user reads: the light access check (`user-state`) and the detailed `user`."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..domain.balances import list_balances
from ..domain.identity import find_reader, require_reader
from ..views import render_paywall_user, render_user_details


@operation("getUserState")
async def get_user_state(call: Call) -> Reply:
    paywall, store = caller(call).require_paywall(), call.state
    reader = find_reader(store, paywall, session_user=caller(call).bearer_user, email=call.headers.get("X-User-Email"),
                         linked_only=True)
    return Reply(body=render_paywall_user(store, paywall, reader.user, call.world.now()))


@operation("getUser")
async def get_user(call: Call) -> Reply:
    paywall, store, now, bearer = caller(call).require_paywall(), call.state, call.world.now(), caller(call).bearer_user
    user = require_reader(store, paywall, session_user=bearer, email=call.query.get("email"),
                          user_id=call.query.get("user_id"))
    balances = list_balances(store, now, paywall, user.id)
    return Reply(body=render_user_details(store, paywall, user, balances, with_profile=bearer is not None))
