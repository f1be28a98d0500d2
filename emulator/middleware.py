"""The aiohttp middleware (one: each layer costs every request) and the CORS response hook.

`error_boundary` answers CORS preflights (listing every header the SDK sends explicitly; a `*` does
not cover Authorization), then turns routing misses (404/405) and any unexpected exception into the
spec's error shape — a handler bug answers 500 `internal_error`, never an HTML page;
`cors_headers` (an `on_response_prepare` hook) marks every response, streamed ones included.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .errors import EmulatorError, InternalError, MethodNotAllowedError, NotFoundError, render_error
from .openapi import dumps

log = logging.getLogger("paywall_emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOWED_HEADERS = (
    "Authorization, Content-Type, Accept, Idempotency-Key, X-Api-Key, X-Paywall-Id, X-SDK-Version, "
    "X-SDK-Capabilities, X-User-Email, X-User-ID, X-User-Id, X-Visitor-Id, Prefer"
)
EXPOSED_HEADERS = "X-Query-Type, X-Emulator-Spec-Violation"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


def _json_error(err: EmulatorError) -> web.Response:
    return web.Response(status=err.http_status, body=dumps(render_error(err)), content_type="application/json")


@web.middleware
async def error_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one middleware (each layer costs every request): CORS preflights first, then the handler
    with every failure turned into the error shape."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return _preflight()
    try:
        return await handler(request)
    except EmulatorError as err:
        return _json_error(err)
    except web.HTTPMethodNotAllowed as exc:
        resp = _json_error(MethodNotAllowedError(f"{request.method} is not allowed on {request.path}"))
        resp.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return resp
    except web.HTTPNotFound:
        return _json_error(NotFoundError(f"no operation at {request.path}", code="not_found"))
    except web.HTTPRequestEntityTooLarge:
        return _json_error(EmulatorError("request body too large", status=413, code="payload_too_large"))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _json_error(InternalError("the emulator hit an unexpected error; see its log"))


def _preflight() -> web.Response:
    """The answer to a CORS preflight, for any path."""
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return response


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer is readable cross-origin: errors built by the boundary
    (routing misses never reach `cors`) and streamed gateway answers included."""
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    response.headers.setdefault("Access-Control-Expose-Headers", EXPOSED_HEADERS)
