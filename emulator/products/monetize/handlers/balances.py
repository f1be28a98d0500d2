"""Handlers of token balances: the Bearer read, the owner's credit/debit, the legacy withdraw."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..domain import balances
from ..views import render_adjusted_balance, render_balances, render_withdrawal


@operation("getBalances")
async def get_balances(call: Call) -> Reply:
    paywall, user = caller(call).require_paywall(), caller(call).bearer_user
    assert user is not None  # the spec makes this Bearer-only; auth refused anything else
    rows = balances.read_for_session(call.state, call.world.now(), paywall, user)
    return Reply(body=render_balances(rows, tokenization=paywall.tokenized))


@operation("adjustBalance")
async def adjust_balance(call: Call) -> Reply:
    paywall, body = caller(call).require_paywall(), call.body
    user, row, rows = balances.adjust_for_identity(
        call.state, call.world.now(), paywall, email=body.get("email"), user_id=body.get("user_id"),
        type_name=body["type"], amount=body["amount"], op=body["op"])
    return Reply(body=render_adjusted_balance(user, row, rows))


@operation("withdrawTokens")
async def withdraw_tokens(call: Call) -> Reply:
    body = call.body
    row = balances.withdraw_as_owner(
        call.state, call.world.now(), owner_id=caller(call).principal.owner_id,
        paywall_id=str(body["paywall_id"]), user_ref=str(body["user_id"]), tokens=int(body["tokens"]),
        token_type=body.get("token_type"))
    return Reply(body=render_withdrawal(row))
