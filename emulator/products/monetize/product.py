"""monetize.software as a product of the engine: paywalls, checkout through five acquirers, token
balances, the metered AI gateway, signed webhooks (seeds 000-002). `PRODUCT` is all the engine sees;
everything else in this package is the product's own (ARCHITECTURE.md, "monetize")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ...engine.product import Page, Product
from . import delivery, handlers, inspector, upstream, webhooks
from .auth import authenticate_call
from .domain.balances import topped_up_rows
from .domain.scheduler import billing_sources
from .state import PRODUCT_NAME, Store
from .views import render_error, render_state
from .worldfile import load_section, plan_section


def _setup(app: web.Application) -> None:
    app[upstream.UPSTREAMS_KEY] = upstream.Upstreams()  # the gateway's transport; its session opens below
    app.cleanup_ctx.append(delivery.delivery_context)  # webhook worker + its HTTP client session
    app.cleanup_ctx.append(upstream.session_context)  # the gateway's upstream HTTP client session


def _dump(store: Store, now: datetime, page: Page) -> dict[str, Any]:
    return render_state(store, page, topped_up_rows(store, now, page.rows(store.balances)),
                        page.rows(webhooks.list_deliveries(store)))


def _banner(store: Store) -> list[str]:
    lines = []
    for owner in store.owners.values():
        lines.append(f"  owner {owner.id} ({owner.name})  X-Api-Key: {', '.join(owner.api_keys)}")
        for paywall in store.paywalls.values():
            if paywall.owner_id == owner.id:
                tokens = "tokenized" if paywall.tokenized else ""
                lines.append(f"    paywall {paywall.id:>4}  {paywall.acquirer:<9}  {tokens:<9}  {paywall.name}")
    return lines


PRODUCT = Product(
    name=PRODUCT_NAME,
    title="monetize.software",
    spec="monetize.openapi.yaml",
    control_spec="monetize.control.openapi.yaml",
    handlers=handlers.MODULES,
    load_world=load_section,
    plan_world=plan_section,
    render_error=render_error,
    authenticate=authenticate_call,
    due_sources=billing_sources,
    events=lambda store: store.events,
    evicted_events=lambda store: store.evicted.get("events", 0),
    setup=_setup,
    dump=_dump,
    banner=_banner,
    inspect=inspector.tables,
    cors_headers=("Idempotency-Key", "X-Api-Key", "X-Paywall-Id", "X-SDK-Version", "X-SDK-Capabilities",
                  "X-User-Email", "X-User-ID", "X-User-Id", "X-Visitor-Id", "Prefer"),
    exposed_headers=("X-Query-Type",),
)
