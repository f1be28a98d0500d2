"""The `/v1/user/*` calls: balance, top-up link, deposit, charge, connect and disconnect."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..calls import body_of, body_user, links_of, paywall_of, query_user, state_of
from ..domain import access, balances
from ..views import (
    render_balance,
    render_connected,
    render_deposit,
    render_disconnected,
    render_not_connected,
    render_outcome,
    render_topup_link,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


@operation("getUserBalance")
async def get_user_balance(call: Call) -> Reply:
    return Reply(body=render_balance(balances.balance_of(state_of(call), paywall_of(call), query_user(call))))


@operation("getTopupLink")
async def get_topup_link(call: Call) -> Reply:
    links = links_of(call)
    session = balances.open_topup(state_of(call), paywall_of(call), query_user(call), now=call.world.now(),
                                  links=links)
    return Reply(body=render_topup_link(links.topup(session.id)))


@operation("depositBalance")
async def deposit_balance(call: Call) -> Reply:
    body = body_of(call)
    after = balances.deposit(state_of(call), paywall_of(call), body_user(call), body["amount"],
                             metadata=body.get("metadata"), idempotency_key=call.headers.get(IDEMPOTENCY_HEADER),
                             now=call.world.now())
    return Reply(body=render_deposit(after))


@operation("chargeUser")
async def charge_user(call: Call) -> Reply:
    result = balances.charge(state_of(call), paywall_of(call), body_user(call), body_of(call)["amount"],
                             idempotency_key=call.headers.get(IDEMPOTENCY_HEADER), now=call.world.now(),
                             links=links_of(call))
    return Reply(body=render_outcome(result.success, result.message))


@operation("connectUser")
async def connect_user(call: Call) -> Reply:
    paywall = paywall_of(call)
    status = access.connect_status(state_of(call), paywall, query_user(call), now=call.world.now(),
                                   links=links_of(call))
    if isinstance(status, str):
        return Reply(body=render_not_connected(paywall, status))
    return Reply(body=render_connected(status, paywall))


@operation("disconnectUser")
async def disconnect_user(call: Call) -> Reply:
    paywall = paywall_of(call)
    done = access.disconnect(state_of(call), paywall, query_user(call), now=call.world.now())
    return Reply(body=render_disconnected(done, paywall))
