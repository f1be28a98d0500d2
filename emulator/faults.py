"""Fault injection for the public operations (control API `/_emulator/faults`).

Owns the fault table (kept in `store.extra`, so a reset clears it), the choice of which calls a fault
hits (from the nth call on, at most `times`, each with `probability` drawn from an RNG seeded with the
store seed and the fault id, so a run repeats exactly), and the failed answer itself: latency, an
error status in the spec's error shape with code `fault_injected`, or a dropped connection — before
the handler runs, or after it committed its write (`after_commit`). Used by `routing`; HTTP layer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .errors import BadRequestError, EmulatorError, NotFoundError, render_error
from .models import Fault
from .openapi import ApiSpec, Operation, dumps
from .state import Store


@dataclass(slots=True)
class FaultTable:
    faults: dict[str, Fault] = field(default_factory=dict)  # creation order = precedence
    rngs: dict[str, random.Random] = field(default_factory=dict)


def fault_table(store: Store) -> FaultTable:
    found = store.extra.get("faults")
    if isinstance(found, FaultTable):
        return found
    created = store.extra["faults"] = FaultTable()
    return created


def create(store: Store, public: ApiSpec, control: ApiSpec, spec: Mapping[str, Any]) -> Fault:
    """Validate a fault description fully, then add it."""
    op_id = str(spec["operation_id"])
    op = public.by_id().get(op_id)
    if op is None:
        if op_id in control.by_id():
            raise BadRequestError(f"{op_id} is a control operation; faults apply to public operations only",
                                  code="invalid_request")
        raise NotFoundError(f"no public operation {op_id!r}", code="not_found")
    status = spec.get("status")
    drop = bool(spec.get("drop_connection"))
    latency = int(spec.get("latency_ms") or 0)
    if status is None and not drop and not latency:
        raise BadRequestError("a fault needs status, drop_connection or latency_ms", code="invalid_request")
    if status is not None and drop:
        raise BadRequestError("give status or drop_connection, not both", code="invalid_request")
    if spec.get("body") is not None and status is None:
        raise BadRequestError("body goes with status", code="invalid_request")
    if status is not None and not op.declares_status(int(status)):
        declared = sorted(str(k) for k in op.raw.get("responses", {}))
        raise BadRequestError(f"{op_id} does not declare status {status} (it declares {', '.join(declared)})",
                              code="invalid_request")
    fault = Fault(
        id=f"flt_{store.ids.sequence('fault')}", operation_id=op_id,
        status=int(status) if status is not None else None, body=spec.get("body"), latency_ms=latency,
        drop_connection=drop, after_commit=bool(spec.get("after_commit")), nth=int(spec.get("nth") or 1),
        times=int(spec["times"]) if spec.get("times") is not None else None,
        probability=float(spec["probability"]) if spec.get("probability") is not None else 1.0,
    )
    table = fault_table(store)
    table.faults[fault.id] = fault
    # One RNG per fault, seeded from the store seed and its id: outcomes depend only on the call count.
    table.rngs[fault.id] = random.Random(f"{store.seed}:{fault.id}")
    return fault


def list_faults(store: Store) -> list[Fault]:
    return list(fault_table(store).faults.values())


def remove(store: Store, fault_id: str) -> None:
    table = fault_table(store)
    if table.faults.pop(fault_id, None) is None:
        raise NotFoundError(f"no fault {fault_id!r}", code="not_found")
    table.rngs.pop(fault_id, None)


def clear(store: Store) -> None:
    table = fault_table(store)
    table.faults.clear()
    table.rngs.clear()


def pick(store: Store, op: Operation) -> Fault | None:
    """Count this call against every fault of the operation; the first (oldest) that hits wins."""
    table = store.extra.get("faults")
    if op.spec != "public" or not isinstance(table, FaultTable) or not table.faults:
        return None
    chosen: Fault | None = None
    for fault in table.faults.values():
        if fault.operation_id != op.operation_id:
            continue
        fault.calls += 1
        if chosen is not None or fault.calls < fault.nth or (fault.times is not None and fault.hits >= fault.times):
            continue
        if fault.probability < 1 and table.rngs[fault.id].random() >= fault.probability:
            continue
        fault.hits += 1
        chosen = fault
    return chosen


async def inject(fault: Fault, request: web.Request) -> web.StreamResponse | None:
    """Apply a hit fault: wait, then fail the answer; None when only latency was asked for."""
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.drop_connection:
        if request.transport is not None:
            request.transport.close()
        # Writing this fails on the closed transport, and aiohttp drops the connection silently.
        return web.Response(status=503)
    if fault.status is not None:
        err = EmulatorError(f"fault {fault.id} injected on {fault.operation_id}", status=fault.status,
                            code="fault_injected")
        return web.Response(status=fault.status, body=dumps({**render_error(err), **(fault.body or {})}),
                            content_type="application/json", headers={"X-Emulator-Fault": fault.id})
    return None
