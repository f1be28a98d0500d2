"""PayKit as a product of the engine: a credits ledger for AI apps (meter, access, credits), projects and
keys, a fake Stripe behind checkout and portal with signed webhooks, and the embed script (seed 003).
`PRODUCT` is all the engine sees; everything else in this package is PayKit's own."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ...engine.product import DueSource, Product, Transition, WorldError, WorldLoad, WorldPlan, columns
from ...engine.templates import Template, template
from . import delivery, handlers, inspector
from .domain import billing
from .errors import render_error
from .models import StripeEvent
from .state import PayKitState
from .views import render_state
from .world import WorldSectionError, build

PRODUCT_NAME = delivery.PRODUCT_NAME


class BillingSource:
    """Foreground due work of the fake Stripe: renewals, ends at period end, session expiry."""

    background = False

    def next_due(self, state: PayKitState) -> datetime | None:
        return billing.next_due(state)

    async def run_due(self, state: PayKitState, at: datetime) -> Sequence[Transition]:
        return billing.run_due(state, state.ids, at)


def _load(section: Mapping[str, Any] | None, load: WorldLoad) -> PayKitState:
    try:
        return build(section or {}, load.ids, load.limits)
    except WorldSectionError as err:
        raise WorldError(err.message) from err


def _plan(section: Mapping[str, Any] | None, load: WorldLoad) -> WorldPlan:
    """The section checked once; each reset copies the state it describes (nothing in it depends on now)."""
    return functools.partial(_copy, template(_load(section, load), given=frozenset({"ids", "limits"})))


def _copy(plan: Template[PayKitState], load: WorldLoad) -> PayKitState:
    return plan.make(ids=load.ids, limits=load.limits)


def _sources() -> Sequence[DueSource]:
    return (BillingSource(),)


def _events(state: PayKitState) -> Sequence[StripeEvent]:
    return list(state.events.values())


def _banner(state: PayKitState) -> list[str]:
    return columns((f"project {p.id}", f"({p.name})", f"publishable {p.publishable_key}", f"secret {p.secret_key}",
                    "secure metering" if p.secure_metering else "") for p in state.projects.values())


PRODUCT = Product(
    name=PRODUCT_NAME,
    title="PayKit",
    spec="paykit.openapi.yaml",
    control_spec="paykit.control.openapi.yaml",
    handlers=handlers.MODULES,
    load_world=_load,
    plan_world=_plan,
    render_error=render_error,
    due_sources=_sources,
    due_stamp=lambda state: state.due_filed,
    events=_events,
    evicted_events=lambda state: state.evicted.get("events", 0),
    setup=delivery.setup,
    dump=render_state,
    banner=_banner,
    inspect=inspector.tables,
    cors_headers=("x-paykit-key",),
)
