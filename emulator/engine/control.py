"""Handlers of the engine's control API under `/_emulator`: the inspector page, health, reset, world
loading, the state dump, the clock, and fault injection. They act on every product at once; products
add their own control operations in their own packages."""

from __future__ import annotations

from . import faults, travel
from .errors import ConflictError
from .inspector import generic_tables, render_page
from .keys import OPERATIONS_KEY
from .product import Page
from .routing import Call, Reply, operation
from .views import (
    render_clock,
    render_clock_move,
    render_fault,
    render_faults,
    render_health,
    render_reset,
    render_snapshot,
    render_state,
    render_world_loaded,
)

INSPECTOR_ROWS = 500  # the newest rows of each table on the inspector page (the state dump pages through all)


@operation("getInspector")
async def get_inspector(call: Call) -> Reply:
    world, now = call.world, call.world.now()
    window = Page(limit=INSPECTOR_ROWS, tail=True)
    sections = [(p.name, p.title, (p.inspect or generic_tables)(p.dump(world.states[p.name], now, window)))
                for p in world.products]
    page = render_page(clock=render_clock(now, frozen=world.clock.frozen), sections=sections,
                       faults=render_faults(world.faults.faults.values())["faults"],
                       token=call.query.get("token") if world.config.control_token else None)
    return Reply(body=page, content_type="text/html")


@operation("getHealth")
async def get_health(call: Call) -> Reply:
    from .. import __version__

    return Reply(body=render_health(__version__, (p.name for p in call.world.products)))


@operation("resetEmulator")
async def reset_emulator(call: Call) -> Reply:
    call.world.reset()
    return Reply(body=render_reset(call.world.now()))


@operation("loadWorld")
async def load_world(call: Call) -> Reply:
    call.world.load(call.body)
    return Reply(body=render_world_loaded(call.world.document))


@operation("dumpState")
async def dump_state(call: Call) -> Reply:
    world, now = call.world, call.world.now()
    page = Page.asked(call.query)
    dumps = {p.name: p.dump(world.states[p.name], now, page) for p in world.products}
    return Reply(body=render_state(world.id_seed, dumps, page))


@operation("saveSnapshot")
async def save_snapshot(call: Call) -> Reply:
    world = call.world
    path = world.config.state_file
    if path is None:
        raise ConflictError("this emulator was started without a state file (serve --state FILE)",
                            code="invalid_state")
    world.save(path)
    return Reply(body=render_snapshot(path, world.now()))


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


@operation("createFault")
async def create_fault(call: Call) -> Reply:
    world = call.world
    fault = faults.create(world.faults, world.id_seed, call.request.app[OPERATIONS_KEY], call.body)
    return Reply(status=201, body=render_fault(fault))


@operation("listFaults")
async def list_faults(call: Call) -> Reply:
    return Reply(body=render_faults(call.world.faults.faults.values()))


@operation("clearFaults")
async def clear_faults(call: Call) -> Reply:
    faults.clear(call.world.faults)
    return Reply(status=204)


@operation("deleteFault")
async def delete_fault(call: Call) -> Reply:
    faults.remove(call.world.faults, call.path["faultId"])
    return Reply(status=204)
