"""Fault injection for the public operations (control API `/_emulator/faults`).

Owns the fault table (the `World`'s, so a reset clears it) and the choice of which calls a fault hits
(from the nth call on, at most `times`, each with `probability` drawn from an RNG seeded with the id
seed and the fault id, so a run repeats exactly). The failed answer itself (latency, an error status,
a dropped connection) is `routing.inject`'s. No aiohttp.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from .errors import BadRequestError, NotFoundError
from .openapi import Operation
from .structs import struct


@struct(kw_only=True)
class Fault:
    """An injected failure of one public operation (control API `/_emulator/faults`)."""

    id: str
    operation_id: str
    status: int | None = None
    body: dict[str, Any] | None = None  # merged over the `fault_injected` error body
    latency_ms: int = 0
    drop_connection: bool = False
    after_commit: bool = False  # the handler runs and its write stays applied; only the answer fails
    nth: int = 1  # the first matching call (1-based, counted from the fault's creation) it may hit
    times: int | None = None  # how many calls it hits at most (None: no limit)
    probability: float = 1.0  # chance of hitting an eligible call (seeded, deterministic)
    calls: int = 0  # calls of the operation seen since creation
    hits: int = 0  # calls it actually failed


@struct
class FaultTable:
    faults: dict[str, Fault] = field(default_factory=dict)  # creation order = precedence
    rngs: dict[str, random.Random] = field(default_factory=dict)
    created: int = 0  # faults ever created since the last reset (their ids count on)


def create(table: FaultTable, id_seed: int, operations: Mapping[str, Operation], spec: Mapping[str, Any]) -> Fault:
    """Validate a fault description fully, then add it. `operations`: every operation served, by id."""
    op_id = str(spec["operation_id"])
    op = operations.get(op_id)
    if op is None or op.spec != "public":
        if op is not None:
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
    table.created += 1
    fault = Fault(
        id=f"flt_{table.created}", operation_id=op_id,
        status=int(status) if status is not None else None, body=spec.get("body"), latency_ms=latency,
        drop_connection=drop, after_commit=bool(spec.get("after_commit")), nth=int(spec.get("nth") or 1),
        times=int(spec["times"]) if spec.get("times") is not None else None,
        probability=float(spec["probability"]) if spec.get("probability") is not None else 1.0,
    )
    table.faults[fault.id] = fault
    # One RNG per fault, seeded from the id seed and its id: outcomes depend only on the call count.
    table.rngs[fault.id] = random.Random(f"{id_seed}:{fault.id}")
    return fault


def remove(table: FaultTable, fault_id: str) -> None:
    if table.faults.pop(fault_id, None) is None:
        raise NotFoundError(f"no fault {fault_id!r}", code="not_found")
    table.rngs.pop(fault_id, None)


def clear(table: FaultTable) -> None:
    table.faults.clear()
    table.rngs.clear()


def pick(table: FaultTable, op: Operation) -> Fault | None:
    """Count this call against every fault of the operation; the first (oldest) that hits wins."""
    if not table.faults or op.spec != "public":
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
