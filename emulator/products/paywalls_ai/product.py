"""Paywalls.ai as a product of the engine: `PRODUCT` is all the engine sees of this package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ...engine.product import Page, Product, columns
from . import delivery, handlers, transport
from .domain.identity import paywall_for_authorization
from .errors import render_error
from .state import PRODUCT_NAME, PaywallsState
from .views import render_state
from .worldfile import load_world, plan_world


def _setup(app: web.Application) -> None:
    app[transport.PROXY_KEY] = transport.ProxyRuntime()  # fake provider + HTTP client (opened below)
    app.cleanup_ctx.append(transport.session_context)
    app.cleanup_ctx.append(delivery.delivery_context)  # webhook worker + its HTTP client session


def _authenticate(call: Any) -> Any:
    return paywall_for_authorization(call.state, call.headers.get("Authorization"))


def _dump(state: PaywallsState, now: datetime, page: Page) -> Any:
    return render_state(state, page)


def _banner(state: PaywallsState) -> list[str]:
    return columns((f"paywall {p.id}", f"{p.mode} mode", p.name, "base URL /v1", f"key {', '.join(p.keys)}")
                   for p in state.paywalls.values())


PRODUCT = Product(
    name=PRODUCT_NAME,
    title="Paywalls.ai",
    spec="paywalls-ai.openapi.yaml",
    control_spec="paywalls-ai.control.openapi.yaml",
    handlers=handlers.MODULES,
    load_world=load_world,
    plan_world=plan_world,
    render_error=render_error,
    authenticate=_authenticate,
    events=lambda state: state.events,
    evicted_events=lambda state: state.evicted.get("events", 0),
    setup=_setup,
    dump=_dump,
    banner=_banner,
    cors_headers=("Authorization", "X-Paywall-User", "Idempotency-Key"),
)
