"""The app factory: the only module that knows every piece.

`create_app(config)` composes the engine with the products it serves (every bundled one by default),
compiles every spec, builds the `World`, binds every operationId to its handler, installs the
middleware and each product's background tasks, and returns the aiohttp app. Every app is
independent: nothing is shared between two apps in one process.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Mapping, Sequence

from aiohttp import web

from .config import EmulatorConfig
from .engine import control
from .engine.keys import OPERATIONS_KEY, SPECS_KEY, WORLD_KEY
from .engine.middleware import CONTROL_PREFIX, ERROR_SHAPES_KEY, ErrorShapes, error_boundary
from .engine.openapi import CONTROL_SPEC, ApiSpec, SpecError, compile_spec, load_spec, spec_path
from .engine.product import Product
from .engine.routing import MAX_BODY_BYTES, Handler, bind_routes, collect_handlers
from .engine.world import World

# The bundled products by name, each imported only when served: a server of one product never compiles
# the others' modules (`EmulatorConfig.products`, `serve --products`).
BUNDLED: dict[str, str] = {
    "monetize": ".products.monetize.product",
    "paykit": ".products.paykit.product",
    "paywalls-ai": ".products.paywalls_ai.product",
}


def product_names(text: str) -> tuple[str, ...]:
    """A comma-separated list of bundled product names (`serve --products`, `--paywall-products`), each
    once, in order; ValueError naming the first that is not one, or when it names none."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    wrong = [n for n in names if n not in BUNDLED] or ([] if names else [text])
    if wrong:
        raise ValueError(f"{wrong[0]!r} is not a bundled product; name one or more of {', '.join(BUNDLED)}, "
                         "comma-separated")
    return names


def bundled_products(names: Sequence[str] | None = None) -> tuple[Product, ...]:
    """The bundled products named (all of them for None), in the order given; ValueError for a name that
    is not one."""
    chosen = list(BUNDLED) if names is None else list(dict.fromkeys(names))
    for name in chosen:
        if name not in BUNDLED:
            raise ValueError(f"unknown product {name!r}; the bundled ones are {', '.join(BUNDLED)}")
    products: list[Product] = [importlib.import_module(BUNDLED[name], __package__).PRODUCT for name in chosen]
    return tuple(products)


def create_app(config: EmulatorConfig | None = None, *, products: Sequence[Product] | None = None,
               handler_overrides: Mapping[str, Handler] | None = None) -> web.Application:
    """`products`: what to serve (default: the bundled ones `config.products` names, all if None);
    `handler_overrides` (operationId -> handler) is a test seam for the pipeline's own tests."""
    # The build makes tens of thousands of objects that outlive it: the cyclic collector, run while they
    # are made, would scan the growing heap over and over (a third of a first start's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _compose(config or EmulatorConfig(), products, handler_overrides)
    finally:
        if collecting:
            gc.enable()


def _compose(config: EmulatorConfig, products: Sequence[Product] | None,
             handler_overrides: Mapping[str, Handler] | None) -> web.Application:
    if products is None:
        products = bundled_products(config.products)
    specs = load_specs(config, products)
    world = World.create(config, products, foreign=frozenset(BUNDLED))
    if config.state_file is not None and config.state_file.exists():
        world.resume(config.state_file)
    app = web.Application(middlewares=[error_boundary], client_max_size=MAX_BODY_BYTES)
    app[WORLD_KEY] = world
    app[SPECS_KEY] = specs
    app[OPERATIONS_KEY] = {op.operation_id: op for spec in specs for op in spec.operations}
    shapes = app[ERROR_SHAPES_KEY] = ErrorShapes.of(specs, {p.name: p for p in products})
    handlers = collect_handlers([control, *(m for p in products for m in p.handlers)])
    bind_routes(app, specs, {**handlers, **(handler_overrides or {})}, {p.name: p for p in products},
                shapes.answer_headers)
    for product in products:
        if product.setup is not None:
            product.setup(app)
    if config.state_file is not None:
        app.on_shutdown.append(_save_world)
    return app


async def _save_world(app: web.Application) -> None:
    world = app[WORLD_KEY]
    if world.config.state_file is not None:
        world.save(world.config.state_file)


def load_specs(config: EmulatorConfig, products: Sequence[Product]) -> tuple[ApiSpec, ...]:
    """Compile the engine's control spec and each product's documents; refuse paths that collide
    (two operations on one method and path template) and control paths outside `/_emulator`."""

    def compiled(file: str, kind: str, product: str) -> ApiSpec:
        path = config.spec_overrides.get(file) or spec_path(file)
        document, paths = load_spec(path)
        return compile_spec(document, file, kind=kind, product=product, paths=paths)

    specs = [compiled(CONTROL_SPEC, "control", "")]
    for p in products:
        specs.append(compiled(p.spec, "public", p.name))
        if p.control_spec:
            specs.append(compiled(p.control_spec, "control", p.name))
    seen: dict[tuple[str, str], str] = {}
    for spec in specs:
        for op in spec.operations:
            inside = op.path.startswith(CONTROL_PREFIX + "/")
            if inside != (spec.kind == "control"):
                raise SpecError(f"{spec.name}: {op.operation_id} at {op.path}: control paths must live under "
                                f"{CONTROL_PREFIX} and only there")
            key = (op.method, _shape(op.path))
            if key in seen:
                raise SpecError(f"{op.method} {op.path} of {spec.name} collides with {seen[key]}")
            seen[key] = f"{spec.name} ({op.operation_id})"
    return tuple(specs)


def _shape(template: str) -> str:
    """A path template with its parameter names erased: /a/{x} and /a/{y} are the same route."""
    import re

    return re.sub(r"\{[^}]*\}", "{}", template)
