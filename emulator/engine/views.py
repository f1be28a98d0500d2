"""Wire shapes of the engine's own control API (health, reset, world loading, state, clock, faults).
Pure functions from engine values to JSON-ready dicts; field names follow spec/control.openapi.yaml."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from .faults import Fault
from .product import EventRef, Page, Transition
from .timestamps import iso
from .travel import ClockMove


def render_health(version: str, products: Iterable[str]) -> dict[str, Any]:
    return {"status": "ok", "version": version, "products": list(products)}


def render_reset(now: datetime) -> dict[str, Any]:
    return {"reset": True, "now": iso(now)}


def render_world_loaded(sections: Iterable[str]) -> dict[str, Any]:
    return {"loaded": True, "sections": list(sections)}


def render_snapshot(path: Path, now: datetime) -> dict[str, Any]:
    return {"saved": True, "path": str(path), "at": iso(now)}


def render_state(id_seed: int, dumps: dict[str, Any], page: Page) -> dict[str, Any]:
    return {"id_seed": id_seed, "page": render_page(page), **dumps}


def render_page(page: Page) -> dict[str, Any]:
    """The window an answer holds of a longer list (`page.more`: ask again from `offset + limit`)."""
    return {"offset": page.offset, "limit": page.limit, "more": page.more}


def render_clock(now: datetime, *, frozen: bool) -> dict[str, Any]:
    return {"now": iso(now), "frozen": frozen}


def render_event_ref(event: EventRef) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created_at": iso(event.created_at)}


def render_transition(transition: Transition) -> dict[str, Any]:
    """`{type, at, ...}`: the product's fields follow in their declared order, instants as ISO strings."""
    body: dict[str, Any] = {"type": transition.kind, "at": iso(transition.at)}
    # The class's field table, not `dataclasses.fields()`: a clock move renders many transitions, and
    # transitions declare no ClassVar or InitVar pseudo-fields.
    for name in type(transition).__dataclass_fields__:
        if name not in ("kind", "at"):
            value = getattr(transition, name)
            body[name] = iso(value) if isinstance(value, datetime) else value
    return body


MOVE_LISTED = 10_000  # transitions and events a clock move's answer lists at most (each), in order


def render_clock_move(move: ClockMove, *, listed: int = MOVE_LISTED) -> dict[str, Any]:
    """A move's answer; a move that did more than `listed` of either lists the first ones and counts the
    rest under `omitted` (100,000 expiries would otherwise be an 18 MB answer)."""
    body: dict[str, Any] = {"now": iso(move.now), "previous": iso(move.previous),
                            "transitions": [render_transition(t) for t in move.transitions[:listed]],
                            "events": [render_event_ref(e) for e in move.events[:listed]]}
    if len(move.transitions) > listed or len(move.events) > listed:
        body["omitted"] = {"transitions": max(len(move.transitions) - listed, 0),
                           "events": max(len(move.events) - listed, 0)}
    return body


def render_fault(fault: Fault) -> dict[str, Any]:
    return {"id": fault.id, "operation_id": fault.operation_id, "status": fault.status, "body": fault.body,
            "latency_ms": fault.latency_ms, "drop_connection": fault.drop_connection,
            "after_commit": fault.after_commit, "nth": fault.nth, "times": fault.times,
            "probability": fault.probability, "calls": fault.calls, "hits": fault.hits}


def render_faults(faults: Iterable[Fault]) -> dict[str, Any]:
    return {"faults": [render_fault(f) for f in faults]}
