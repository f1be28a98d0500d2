"""Spec-compiled routing and the per-request pipeline.

Owns: binding each operationId to the handler marked `@operation("opId")`, registering routes
(static paths before templated ones), and the pipeline every request goes through — auth, paywall
ownership, parameter and body validation, the handler, then response validation against the spec.
A request the spec rejects never reaches a handler. Also answers a fault `faults.pick` chose (`inject`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import field
from itertools import chain
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam

from . import faults
from .call import Call as Call  # handlers import it from here, with `Reply` and `operation`
from .call import UploadedFile
from .errors import (
    BadRequestError,
    EmulatorError,
    ForbiddenError,
    NotImplementedOperationError,
    UnauthorizedError,
    render_error,
)
from .keys import WORLD_KEY
from .openapi import ApiSpec, Operation, Parameter, SpecError, coerce_parameter, dumps
from .product import Product
from .structs import struct
from .values import check_text, sanitised
from .world import World

log = logging.getLogger("paywall_emulator")

MAX_BODY_BYTES = 64 * 1024 * 1024
JSON_CT = "application/json"
FORM_CT = "application/x-www-form-urlencoded"


@struct
class Reply:
    """What a handler returns: rendered by the pipeline and validated against the spec."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CT
    # The body is a memoised object that is never mutated (bootstrap's guest answer): its JSON is
    # encoded once and reused while the same object comes back.
    reused_body: bool = False
    # The JSON text `body` was parsed from, sent as it is (a relayed upstream answer); still validated.
    encoded: bytes | None = None


Handler = Callable[[Call], Awaitable[Reply | web.StreamResponse]]
H = TypeVar("H", bound=Handler)


def operation(*operation_ids: str) -> Callable[[H], H]:
    """Mark a coroutine as the handler of one or more operationIds."""

    def mark(fn: H) -> H:
        fn.__operation_ids__ = operation_ids  # type: ignore[attr-defined]
        return fn

    return mark


def collect_handlers(modules: Iterable[ModuleType]) -> dict[str, Handler]:
    found: dict[str, Handler] = {}
    for module in modules:
        for value in vars(module).values():
            for op_id in getattr(value, "__operation_ids__", ()):
                if op_id in found:
                    raise SpecError(f"two handlers for operationId {op_id!r}")
                found[op_id] = value
    return found


def bind_routes(app: web.Application, specs: Iterable[ApiSpec], handlers: dict[str, Handler],
                products: Mapping[str, Product],
                answer_headers: Callable[[str], Mapping[str, str]] = lambda path: {}) -> None:
    """Route every operation of `specs` to its pipeline; `answer_headers(path template)`: the headers
    every answer of that operation carries (the CORS headers of product paths)."""
    operations = [op for spec in specs for op in spec.operations]
    known = {op.operation_id for op in operations}
    stray = sorted(set(handlers) - known)
    if stray:
        raise SpecError(f"handlers for operations the spec does not declare: {stray}")
    missing = sorted(op.operation_id for op in operations
                     if op.operation_id not in handlers and not op.extension("x-emulator-unimplemented"))
    if missing:
        raise SpecError(f"operations without a handler: {missing}")
    for op in sorted(operations, key=_route_order):
        handler = handlers.get(op.operation_id) or _unimplemented
        app.router.add_route(op.method, _aiohttp_path(op.path),
                             _pipeline(op, handler, products.get(op.product), answer_headers(op.path)))


def _route_order(op: Operation) -> tuple[bool, bool, int, str]:
    """Static paths first, then templates: a template never shadows a path. aiohttp tries the templates
    sharing a prefix (`/api/v1/paywall/{id}/...`) one by one in this order, and a template matches only
    paths of its own number of segments, except one whose last parameter spans slashes (the gateway's
    `{path}`), which comes after them all. So templates go fewest segments first (the SDK's everyday
    calls: bootstrap, balances, user; not after every sign-in route), literal segments before
    parameters at the same depth (`{` sorts after letters)."""
    spans = _aiohttp_path(op.path) != op.path
    return "{" in op.path, spans, op.path.count("/"), op.path


def _aiohttp_path(template: str) -> str:
    # The gateway's trailing {path} may hold slashes.
    return template.replace("/{path}", "/{path:.+}")


async def _unimplemented(call: Call) -> Reply:
    raise NotImplementedOperationError(f"{call.op.operation_id} is declared but not implemented yet")


def _pipeline(op: Operation, handler: Handler, product: Product | None,
              answer_headers: Mapping[str, str]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    # Reset, world loading and health never run due work first: they must answer whatever state the world is in.
    catch_up = not op.extension("x-emulator-skip-catch-up")
    writes = op.method not in ("GET", "HEAD", "OPTIONS")
    authenticate = product.authenticate if product is not None and op.spec == "public" else None
    guard = _control_guard(op) if op.spec == "control" else None
    shape = product.render_error if product is not None else render_error

    async def serve(request: web.Request, world: World) -> web.StreamResponse:
        try:
            if guard is not None:
                guard(request, world)
            if catch_up:
                await world.catch_up()
            call = await _prepare(op, request, world, authenticate)
            try:
                result = await handler(call)
            finally:
                if writes:
                    world.changed(op.product or None)  # it may have scheduled work (a checkout to expire)
        except EmulatorError as err:
            result = Reply(status=err.http_status, body=shape(err))
        if not isinstance(result, Reply):  # a stream the handler answered itself
            return result
        return render(op, result, strict=world.config.strict_responses, shape=shape, base_headers=answer_headers)

    async def run(request: web.Request) -> web.StreamResponse:
        world = request.app[WORLD_KEY]
        # Fault injection (control API): before anything else, or after the handler committed its write.
        fault = faults.pick(world.faults, op)
        if fault is not None and not fault.after_commit:
            early = await inject(fault, request, shape, answer_headers)
            if early is not None:
                return early
        response = await serve(request, world)
        if fault is not None and fault.after_commit and not response.prepared:
            late = await inject(fault, request, shape, answer_headers)
            if late is not None:
                return late
        return response

    run.__name__ = op.operation_id
    return run


async def inject(fault: faults.Fault, request: web.Request, shape: Callable[[EmulatorError], Any],
                 answer_headers: Mapping[str, str]) -> web.StreamResponse | None:
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
        body = shape(err)
        if isinstance(body, dict) and fault.body:
            body = {**body, **fault.body}
        return web.Response(status=fault.status, body=dumps(body), content_type=JSON_CT,
                            headers={**answer_headers, "X-Emulator-Fault": fault.id})
    return None


def _control_guard(op: Operation) -> Callable[[web.Request, World], None]:
    """The control API answers no cross-origin browser request: a page on another origin could otherwise
    read the keys from the state dump, register its own webhook endpoint or reset the world. Browsers send
    `Origin` on every cross-origin request that can change state, and `Sec-Fetch-Site` on all of theirs.
    With `control_token` configured, the header X-Emulator-Token is required too (not on pages a person
    opens, `x-emulator-page`, which a browser cannot add headers to; an operation marked
    `x-emulator-token-in-query`, the inspector, also takes it as `?token=`)."""
    page = bool(op.extension("x-emulator-page"))
    in_query = bool(op.extension("x-emulator-token-in-query"))

    def guard(request: web.Request, world: World) -> None:
        own = {f"{request.scheme}://{request.host}", (world.config.public_origin or "").rstrip("/")}
        origin = request.headers.get("Origin")
        fetch_site = request.headers.get("Sec-Fetch-Site", "")
        # A page (`x-emulator-page`) is opened by navigating from the merchant's or the app's site (a hosted
        # checkout, the OAuth provider popup): a cross-site GET of it reads nothing another page can see
        # (no CORS headers) and changes nothing; its buttons post from its own origin.
        navigation = page and request.method == "GET"
        if (origin is not None and origin not in own) or (
                origin is None and fetch_site == "cross-site" and not navigation):
            raise ForbiddenError("the control API answers no cross-origin browser request",
                                 code="cross_origin_forbidden")
        token = world.config.control_token
        given = request.headers.get("X-Emulator-Token") or (request.query.get("token", "") if in_query else "")
        # bytes, as they arrived: a header is decoded with surrogate escapes, and a str with non-ASCII
        # characters cannot be compared in constant time at all
        if token and not page and not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                          token.encode("utf-8", "surrogateescape")):
            raise UnauthorizedError("this emulator's control API needs the X-Emulator-Token header "
                                    "(serve --control-token)", code="control_token_required")

    return guard


async def _prepare(op: Operation, request: web.Request, world: World,
                   authenticate: Callable[[Call], Any] | None) -> Call:
    path = dict(request.match_info)
    # ASCII holds no lone surrogate: the usual case is settled by one look at the decoded path and query
    # and the raw header bytes (a header's non-ASCII byte is what decodes to a surrogate escape).
    if not (request.path.isascii() and request.query_string.isascii()
            and b"".join(chain.from_iterable(request.raw_headers)).isascii()):
        for where, values in (("header", request.headers), ("query", request.query), ("path", path)):
            for name, value in values.items():
                if not (name.isascii() and value.isascii()):
                    check_text(name, f"a {where} name", "invalid_request")
                    check_text(value, f"{where} value {name!r}", "invalid_request")
    call = Call(op=op, request=request, world=world, path=path, query={}, headers=request.headers, body=None,
                files=[])
    if authenticate is not None:
        call.auth = authenticate(call)
    declared = op.params_in
    if declared["query"]:
        call.query = _params(declared["query"], "query", request.query)
    if declared["header"]:
        _params(declared["header"], "header", request.headers)
    if declared["path"]:
        _params(declared["path"], "path", path)
    call.body, call.files = await _read_body(op, request)
    return call


MAX_ACCEPTED = 256  # remembered valid raw values per parameter


def _params(params: tuple[Parameter, ...], location: str, source: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in params:
        raw = source.get(param.name)
        if raw is None:
            if param.required:
                raise param.missing()
            continue
        accepted = param.accepted
        if raw in accepted:  # this raw value was coerced and validated before: same answer
            values[param.name] = accepted[raw]
            continue
        check_text(raw, f"{location} parameter {param.name!r}", "invalid_request")
        value = coerce_parameter(raw, param.schema)
        param.validator.check(value, location=f"{location}.{param.name}")
        if len(accepted) >= MAX_ACCEPTED:
            accepted.clear()
        accepted[raw] = value
        values[param.name] = value
    return values


async def _read_body(op: Operation, request: web.Request) -> tuple[Any, list[UploadedFile]]:
    if not op.body_validators:
        return None, []
    media_type = request.content_type if request.body_exists else ""
    declared = op.body_validators
    known: tuple[str, bytes] | None = None  # a JSON body's (media type, text), when small enough to remember
    if "*/*" in declared:
        return None, []  # an opaque body (the gateway forwards it untouched): the handler reads it raw
    if not request.body_exists or (media_type in ("application/octet-stream", "") and not await request.read()):
        if not op.body_required:
            return None, []
        media_type = JSON_CT if JSON_CT in declared else next(iter(declared))
        body: Any = {}
        files: list[UploadedFile] = []
    elif media_type == "multipart/form-data" and media_type in declared:
        body, files = await _read_multipart(request)
    elif media_type == FORM_CT and media_type in declared:  # the hosted pages' HTML forms
        body, files = await _read_form(request), []
    elif media_type in declared or (media_type == "application/octet-stream" and JSON_CT in declared):
        raw = await request.read()
        try:
            body = _json_body(raw) if raw.strip() else {}
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError; absurd nesting
            raise BadRequestError(f"the body is not valid UTF-8 JSON: {exc}", code="invalid_json") from exc
        files = []
        media_type = media_type if media_type in declared else JSON_CT
        # The same JSON text validates the same way: a small one found valid before is not checked again
        # (an SDK sends the same few bodies over and over). It is still parsed afresh for the handler.
        known = (media_type, raw) if len(raw) <= MAX_REMEMBERED_BODY else None
    else:
        raise BadRequestError(
            f"unsupported Content-Type {media_type!r}; send one of {sorted(declared)}",
            code="unsupported_media_type")
    body = sanitised(body, "body")
    if known is None or known not in op.valid_bodies:
        declared[media_type].check(body, location="body")
        if known is not None:
            if len(op.valid_bodies) >= MAX_REMEMBERED_REPLIES:
                op.valid_bodies.clear()
            op.valid_bodies[known] = None
    return body, files


def _not_json(constant: str) -> Any:
    """Python's json accepts NaN/Infinity; JSON (and every client of our answers) does not."""
    raise ValueError(f"{constant} is not a JSON value")


# What `json.loads(raw, parse_constant=_not_json)` does, without building a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_not_json)


def _json_body(raw: bytes) -> Any:
    return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))


async def _read_form(request: web.Request) -> dict[str, str]:
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"the form body is not UTF-8: {exc}", code="invalid_request") from exc
    return dict(parse_qsl(text, keep_blank_values=True))


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], list[UploadedFile]]:
    # aiohttp only *warns* about a Content-Disposition it cannot parse and then drops the part's name, so
    # the answer would depend on the process's warning filters (an error under `-W error`, a skipped part
    # otherwise). Here it is always an error: such a part is malformed, and the request is refused whole.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", BadContentDispositionHeader)
            warnings.simplefilter("error", BadContentDispositionParam)
            return await _parse_multipart(request)
    except (ValueError, HttpProcessingError, BadContentDispositionHeader, BadContentDispositionParam) as exc:
        # no/wrong boundary, bad part headers, non-UTF-8 text
        raise BadRequestError(f"the multipart body is malformed: {exc}", code="invalid_request") from exc


async def _parse_multipart(request: web.Request) -> tuple[dict[str, Any], list[UploadedFile]]:
    fields: dict[str, Any] = {}
    files: list[UploadedFile] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue  # nested multiparts carry nothing the API reads
        if part.filename:
            size = 0
            while chunk := await part.read_chunk(1 << 16):
                size += len(chunk)
            files.append(UploadedFile(field=part.name, filename=part.filename,
                                      content_type=part.headers.get("Content-Type", "application/octet-stream"),
                                      size=size))
        else:
            fields[part.name] = await part.text()
    return fields, files


def render(op: Operation | None, reply: Reply, *, strict: bool,
           shape: Callable[[EmulatorError], Any] = render_error,
           base_headers: Mapping[str, str] | None = None) -> web.Response:
    """The response of a handler's reply (`base_headers` under the reply's own), its JSON checked
    against the operation's declared response (strict: a violation answers 500)."""
    headers = {**base_headers, **reply.headers} if base_headers else dict(reply.headers)
    if reply.status == 204:
        return web.Response(status=204, headers=headers)
    if reply.content_type != JSON_CT:  # pages and redirects: the handler's text as is
        text = reply.body if isinstance(reply.body, str | bytes) else ""
        return web.Response(status=reply.status, body=text.encode() if isinstance(text, str) else text,
                            headers=headers, content_type=reply.content_type)
    payload = _encoded(op, reply)
    if op is not None and reply.content_type == JSON_CT:
        problem = response_problem(op, reply.status, reply.body, payload=payload)
        if problem is not None:
            log.error("response of %s violates the spec: %s", op.operation_id, problem)
            if strict:
                err = EmulatorError(f"{op.operation_id} answered {reply.status} violating the spec: {problem}",
                                    status=500, code="response_validation_failed")
                return web.Response(status=500, body=dumps(shape(err)), content_type=JSON_CT,
                                    headers=base_headers)
            headers["X-Emulator-Spec-Violation"] = problem[:500]
    return web.Response(status=reply.status, body=payload, headers=headers, content_type=reply.content_type)


def _encoded(op: Operation | None, reply: Reply) -> bytes:
    if reply.encoded is not None:
        return reply.encoded
    if op is None or not reply.reused_body:
        return dumps(reply.body)
    known = op.encoded.get(id(reply.body))
    if known is not None and known[0] is reply.body:  # the entry keeps its body alive: ids stay unique
        return known[1]
    payload = dumps(reply.body)
    if len(op.encoded) >= MAX_REMEMBERED_REPLIES:
        op.encoded.clear()
    op.encoded[id(reply.body)] = (reply.body, payload)
    return payload


# Replies whose exact JSON bytes were already found valid are not validated again (bootstrap and most
# reads answer the same document over and over); only small payloads, a few per operation.
MAX_REMEMBERED_REPLIES = 32
MAX_REMEMBERED_BYTES = 32 * 1024
MAX_REMEMBERED_BODY = 4 * 1024  # request bodies: the same count per operation, smaller ones


def response_problem(op: Operation, status: int, body: Any, *, payload: bytes | None = None) -> str | None:
    declared, validator = op.json_response(status)
    if not declared:
        return f"status {status} is not declared"
    if validator is None:
        return None
    key = (status, payload) if payload is not None and len(payload) <= MAX_REMEMBERED_BYTES else None
    if key is not None and key in op.valid_replies:
        return None
    if validator.is_valid(body):
        if key is not None:
            if len(op.valid_replies) >= MAX_REMEMBERED_REPLIES:
                op.valid_replies.clear()
            op.valid_replies[key] = None
        return None
    first = validator.messages(body, limit=1)[0]
    return f"{validator.where} {first['schema_path']} at {first['path'] or '/'}: {first['message']}"
