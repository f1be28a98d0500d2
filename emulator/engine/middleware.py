"""The aiohttp middleware (one: each layer costs every request) and the CORS response hook.

`error_boundary` answers CORS preflights (listing every header the products' SDKs send explicitly; a
`*` does not cover Authorization), then turns routing misses (404/405) and any unexpected exception
into the error shape of the product whose paths the request was aimed at — a handler bug answers 500
`internal_error`, never an HTML page. `ErrorShapes.answer_headers` are the CORS headers every answer on
a product path carries (the pipeline, this boundary and the products' streams add them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from .errors import EmulatorError, ForbiddenError, InternalError, MethodNotAllowedError, NotFoundError, render_error
from .openapi import ApiSpec, dumps
from .product import Product
from .structs import struct

log = logging.getLogger("paywall_emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CONTROL_PREFIX = "/_emulator"
Shape = Callable[[EmulatorError], Any]


@struct(frozen=True)
class ErrorShapes:
    """Which product's error shape (and CORS headers) answer a request, chosen by its path: the product
    whose operations share the most leading path segments with it (a tie, or none: the engine's shape)."""

    routes: tuple[tuple[tuple[str, ...], Shape], ...]  # (template segments, shape) of each public operation
    allowed_headers: str
    cors: Mapping[str, str]  # the CORS headers of every answer on a product path

    def answer_headers(self, path: str) -> Mapping[str, str]:
        """The headers every answer at `path` carries: the CORS headers, except on the control API (for
        same-origin use only). Set on each response directly, not by an `on_response_prepare` hook: a
        signal costs every request more than the headers themselves."""
        return {} if path.startswith(CONTROL_PREFIX) else self.cors

    @classmethod
    def of(cls, specs: Sequence[ApiSpec], products: Mapping[str, Product]) -> ErrorShapes:
        routes = tuple((tuple(op.path.strip("/").split("/")), products[spec.product].render_error)
                       for spec in specs if spec.product for op in spec.operations)
        allowed = dict.fromkeys(["Authorization", "Content-Type", "Accept",
                                 *(h for p in products.values() for h in p.cors_headers)])
        exposed = dict.fromkeys([*(h for p in products.values() for h in p.exposed_headers),
                                 "X-Emulator-Spec-Violation"])
        cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": ", ".join(exposed)}
        return cls(routes=routes, allowed_headers=", ".join(allowed), cors=cors)

    def for_path(self, path: str) -> Shape:
        segments = path.strip("/").split("/")
        best, shapes = 0, set()
        for template, shape in self.routes:
            shared = 0
            for want, got in zip(template, segments, strict=False):
                if want != got and not want.startswith("{"):
                    break
                shared += 1
            if shared > best:
                best, shapes = shared, {shape}
            elif shared == best and shared:
                shapes.add(shape)
        return next(iter(shapes)) if len(shapes) == 1 else render_error


ERROR_SHAPES_KEY = web.AppKey("error_shapes", ErrorShapes)


def answer_headers(request: web.Request) -> dict[str, str]:
    """A copy of the headers every answer to `request` carries (`ErrorShapes.answer_headers`): what a
    handler that streams its answer starts its response's headers from."""
    return dict(request.app[ERROR_SHAPES_KEY].answer_headers(request.path))


def _json_error(request: web.Request, err: EmulatorError) -> web.Response:
    shapes = request.app[ERROR_SHAPES_KEY]
    return web.Response(status=err.http_status, body=dumps(shapes.for_path(request.path)(err)),
                        content_type="application/json", headers=shapes.answer_headers(request.path))


@web.middleware
async def error_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one middleware (each layer costs every request): CORS preflights first, then the handler
    with every failure turned into the error shape."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if request.path.startswith(CONTROL_PREFIX):  # the control API is for same-origin use only
            return _json_error(request, ForbiddenError("the control API answers no cross-origin browser request",
                                                       code="cross_origin_forbidden"))
        return _preflight(request.app[ERROR_SHAPES_KEY])
    try:
        return await handler(request)
    except EmulatorError as err:
        return _json_error(request, err)
    except web.HTTPMethodNotAllowed as exc:
        resp = _json_error(request, MethodNotAllowedError(f"{request.method} is not allowed on {request.path}"))
        resp.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return resp
    except web.HTTPNotFound:
        return _json_error(request, NotFoundError(f"no operation at {request.path}", code="not_found"))
    except web.HTTPRequestEntityTooLarge:
        return _json_error(request, EmulatorError("request body too large", status=413, code="payload_too_large"))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _json_error(request, InternalError("the emulator hit an unexpected error; see its log"))


def _preflight(shapes: ErrorShapes) -> web.Response:
    """The answer to a CORS preflight, for any product path."""
    response = web.Response(status=204, headers=shapes.cors)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = shapes.allowed_headers
    response.headers["Access-Control-Max-Age"] = "600"
    return response


class ProtocolErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger handed to aiohttp's connection handler: HTTP that aiohttp itself refuses before the app
    sees it (oversized or too many headers, NUL or bare LF, Content-Length with Transfer-Encoding, ...) is
    answered by aiohttp (a plain 400; it offers no hook for the body) and logged here as one line, not a
    traceback."""

    def exception(self, msg: object, *args: object, exc_info: object = True, **kwargs: object) -> None:
        import sys

        error = sys.exc_info()[1] if exc_info is True else exc_info
        reason = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else ""
        self.logger.warning("%s (%s)", str(msg) % args if args else msg, reason.replace("\n", " ")[:300])


def server_options() -> dict[str, Any]:
    """Keyword arguments for aiohttp's AppRunner and run_app that every server of the
    emulator uses."""
    return {"logger": ProtocolErrorLog(logging.getLogger("paywall_emulator.http"), {})}
