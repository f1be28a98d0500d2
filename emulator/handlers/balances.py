"""Handlers of token balances: the Bearer read, the owner's credit/debit, the legacy withdraw."""

from __future__ import annotations

from ..auth import require_paywall
from ..domain import balances
from ..errors import ForbiddenError
from ..routing import Call, Reply, operation
from ..views import render_balance


@operation("getBalances")
async def get_balances(call: Call) -> Reply:
    paywall, user = call.require_paywall(), call.bearer_user
    assert user is not None  # the spec makes this Bearer-only; auth refused anything else
    rows = balances.read_for_session(call.store, call.world.now(), paywall, user)
    return Reply(body={"balances": [render_balance(r) for r in rows], "tokenization": paywall.tokenized})


@operation("adjustBalance")
async def adjust_balance(call: Call) -> Reply:
    paywall, body = call.require_paywall(), call.body
    user, row, rows = balances.adjust_for_identity(
        call.store, call.world.now(), paywall, email=body.get("email"), user_id=body.get("user_id"),
        type_name=body["type"], amount=body["amount"], op=body["op"])
    return Reply(body={"success": True, "user_id": user.id, "type": row.type, "count": row.count,
                       "balances": [render_balance(r) for r in rows]})


@operation("withdrawTokens")
async def withdraw_tokens(call: Call) -> Reply:
    body = call.body
    paywall = require_paywall(call.store, call.principal, str(body["paywall_id"]), not_owner=ForbiddenError(
        "Unauthorized. You are not the owner of this paywall",
        error="Unauthorized. You are not the owner of this paywall"))
    row = balances.withdraw(call.store, call.world.now(), paywall, str(body["user_id"]), int(body["tokens"]),
                            str(body.get("token_type") or "standard"))
    return Reply(body={"success": True, "remaining": row.count})
