"""Handlers of the control API under `/_emulator`: reset, seed, state, clock, tokens."""

from __future__ import annotations

from ..auth import mint_token
from ..domain import balances, identity, travel
from ..routing import Call, Reply, operation
from ..views import (
    render_clock,
    render_clock_move,
    render_health,
    render_minted_token,
    render_reset,
    render_seed_loaded,
    render_state,
)


@operation("getHealth")
async def get_health(call: Call) -> Reply:
    from .. import __version__

    return Reply(body=render_health(__version__))


@operation("resetEmulator")
async def reset_emulator(call: Call) -> Reply:
    call.world.reset()
    return Reply(body=render_reset(call.world.now()))


@operation("loadSeed")
async def load_seed(call: Call) -> Reply:
    call.world.load(call.body)
    return Reply(body=render_seed_loaded(call.store))


@operation("dumpState")
async def dump_state(call: Call) -> Reply:
    balances.top_up_all(call.store, call.world.now())  # show balances as a read would (lazy top-ups)
    return Reply(body=render_state(call.store))


@operation("getClock")
async def get_clock(call: Call) -> Reply:
    return Reply(body=render_clock(call.world.now(), frozen=call.world.clock.frozen))


@operation("setClock")
async def set_clock(call: Call) -> Reply:
    await travel.set_clock(call.world, str(call.body["now"]), frozen=bool(call.body.get("frozen", True)))
    return Reply(body=render_clock(call.world.now(), frozen=call.world.clock.frozen))


@operation("advanceClock")
async def advance_clock(call: Call) -> Reply:
    move = await travel.advance_clock(call.world, seconds=call.body.get("seconds"), days=call.body.get("days"))
    return Reply(body=render_clock_move(move))


@operation("mintToken")
async def mint(call: Call) -> Reply:
    store, now, body = call.store, call.world.now(), call.body
    user = identity.enrol_for_token(store, now, paywall_id=str(body["paywall_id"]), email=body.get("email"),
                                    user_id=body.get("user_id"))
    return Reply(body=render_minted_token(mint_token(store, now, user), user, now))
