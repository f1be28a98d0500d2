"""The app factory: the only module that knows every piece.

`create_app(config)` loads and compiles both specs, builds the `World`, binds every operationId
to its handler, installs the middlewares and background tasks, and returns the aiohttp app.
Every app is independent: nothing is shared between two apps in one process.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from . import handlers, upstream, webhooks
from .config import EmulatorConfig
from .keys import CONTROL_SPEC_KEY, PUBLIC_SPEC_KEY, UPSTREAMS_KEY, WORLD_KEY
from .middleware import cors_headers, error_boundary
from .openapi import SpecError, load_specs
from .routing import MAX_BODY_BYTES, Handler, bind_routes, collect_handlers
from .world import World

CONTROL_PREFIX = "/_emulator"


def create_app(config: EmulatorConfig | None = None, *,
               handler_overrides: Mapping[str, Handler] | None = None) -> web.Application:
    """`handler_overrides` (operationId -> handler) is a test seam for the pipeline's own tests."""
    config = config or EmulatorConfig()
    public, control = load_specs(config.public_spec, config.control_spec)
    clash = [op.path for op in public.operations if op.path.startswith(CONTROL_PREFIX)]
    stray = [op.path for op in control.operations if not op.path.startswith(CONTROL_PREFIX + "/")]
    if clash or stray:
        raise SpecError(f"control paths must live under {CONTROL_PREFIX} and only there: {clash + stray}")
    world = World.create(config)
    app = web.Application(middlewares=[error_boundary], client_max_size=MAX_BODY_BYTES)
    app[WORLD_KEY] = world
    app[PUBLIC_SPEC_KEY] = public
    app[CONTROL_SPEC_KEY] = control
    app[UPSTREAMS_KEY] = upstream.Upstreams()  # the gateway's transport; its HTTP session opens in cleanup_ctx
    app.on_response_prepare.append(cors_headers)
    bind_routes(app, (public, control), {**collect_handlers(handlers.MODULES), **(handler_overrides or {})})
    app.cleanup_ctx.append(webhooks.delivery_context)  # webhook worker + HTTP client session
    app.cleanup_ctx.append(upstream.session_context)  # the gateway's upstream HTTP client session
    return app
