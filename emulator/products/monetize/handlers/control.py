"""Handler of the monetize control API's token minting (`/_emulator/tokens`)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import mint_token
from ..domain import identity
from ..views import render_minted_token


@operation("mintToken")
async def mint(call: Call) -> Reply:
    store, now, body = call.state, call.world.now(), call.body
    user = identity.enrol_for_token(store, now, paywall_id=str(body["paywall_id"]), email=body.get("email"),
                                    user_id=body.get("user_id"))
    return Reply(body=render_minted_token(mint_token(store, now, user), user, now))
