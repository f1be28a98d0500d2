"""Handlers of the control API's fault injection (`/_emulator/faults`)."""

from __future__ import annotations

from .. import faults
from ..keys import CONTROL_SPEC_KEY, PUBLIC_SPEC_KEY
from ..routing import Call, Reply, operation
from ..views import render_fault, render_faults


@operation("createFault")
async def create_fault(call: Call) -> Reply:
    app = call.request.app
    fault = faults.create(call.store, app[PUBLIC_SPEC_KEY], app[CONTROL_SPEC_KEY], call.body)
    return Reply(status=201, body=render_fault(fault))


@operation("listFaults")
async def list_faults(call: Call) -> Reply:
    return Reply(body=render_faults(faults.list_faults(call.store)))


@operation("clearFaults")
async def clear_faults(call: Call) -> Reply:
    faults.clear(call.store)
    return Reply(status=204)


@operation("deleteFault")
async def delete_fault(call: Call) -> Reply:
    faults.remove(call.store, call.path["faultId"])
    return Reply(status=204)
