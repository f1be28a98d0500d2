"""The request pipeline itself, with test-only handlers swapped in through
`create_app(handler_overrides=...)`: response validation (strict 500 naming the schema path, lenient
header), no spec-rejected request reaching a handler, routing misses, body parsing errors, the
error boundary, and the startup checks of the operation binding."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from paywall_emulator.app import bundled_products, create_app, load_specs
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine import control
from paywall_emulator.engine.openapi import SpecError, load_document, spec_path
from paywall_emulator.engine.routing import Call, Handler, Reply, bind_routes, collect_handlers
from paywall_emulator.products.monetize.auth import caller

from .conftest import ACME_KEY, RIVAL_KEY, STRIPE_PW, TOKEN_PW

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


class Spy:
    """A handler that records the calls that reach it and answers a fixed reply."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.calls: list[Call] = []

    async def __call__(self, call: Call) -> Reply:
        self.calls.append(call)
        return self.reply


async def client_for(aiohttp_client: ClientFactory, *, strict: bool = True, **overrides: Handler
                     ) -> TestClient[Any, Any]:
    app = create_app(EmulatorConfig(strict_responses=strict), handler_overrides=overrides)
    return await aiohttp_client(app)


async def error_of(resp: Any) -> tuple[int, str, dict[str, Any]]:
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = await resp.json()
    assert {"error", "code", "message"} <= set(body), body
    return resp.status, body["code"], body


# --- response validation ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_body_missing_a_required_field_is_500_naming_the_schema_path(aiohttp_client: ClientFactory) -> None:
    wrong = Spy(Reply(body={"has_active_subscription": False, "purchases": [], "had_previous_trial": False}))
    client = await client_for(aiohttp_client, getUserState=wrong)
    status, code, body = await error_of(await client.get(f"/api/v1/paywall/{STRIPE_PW}/user-state"))
    assert (status, code) == (500, "response_validation_failed")
    assert len(wrong.calls) == 1
    assert "getUserState response 200" in body["message"] and "/required" in body["message"]
    assert "trial" in body["message"]


@pytest.mark.asyncio
async def test_a_wrongly_typed_field_is_500(aiohttp_client: ClientFactory) -> None:
    wrong = Spy(Reply(body={"status": "ok", "version": 1, "products": []}))
    client = await client_for(aiohttp_client, getHealth=wrong)
    status, code, body = await error_of(await client.get("/_emulator/health"))
    assert (status, code) == (500, "response_validation_failed")
    assert "/properties/version/type" in body["message"]


@pytest.mark.asyncio
async def test_an_undeclared_status_is_500(aiohttp_client: ClientFactory) -> None:
    client = await client_for(aiohttp_client, getHealth=Spy(Reply(status=418, body={"teapot": True})))
    status, code, body = await error_of(await client.get("/_emulator/health"))
    assert (status, code) == (500, "response_validation_failed")
    assert "status 418 is not declared" in body["message"]


@pytest.mark.asyncio
async def test_an_error_code_outside_the_enum_is_caught(aiohttp_client: ClientFactory) -> None:
    rogue = Spy(Reply(status=404, body={"error": "nope", "code": "made_up_code", "message": "x"}))
    client = await client_for(aiohttp_client, getUserState=rogue)
    status, code, _ = await error_of(await client.get(f"/api/v1/paywall/{STRIPE_PW}/user-state"))
    assert (status, code) == (500, "response_validation_failed")


@pytest.mark.asyncio
async def test_lenient_mode_passes_the_reply_with_a_warning_header(aiohttp_client: ClientFactory) -> None:
    client = await client_for(aiohttp_client, strict=False, getHealth=Spy(Reply(body={"status": "ok"})))
    resp = await client.get("/_emulator/health")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}
    assert "/required" in resp.headers["X-Emulator-Spec-Violation"]
    assert "Access-Control-Expose-Headers" not in resp.headers  # the control API is for same-origin use


@pytest.mark.asyncio
async def test_a_valid_reply_has_no_warning(aiohttp_client: ClientFactory) -> None:
    client = await client_for(aiohttp_client, strict=False)
    resp = await client.get("/_emulator/health")
    assert resp.status == 200 and "X-Emulator-Spec-Violation" not in resp.headers


# --- nothing the spec rejects reaches a handler ---------------------------------------------------


ADJUSTED = {"success": True, "user_id": "u", "type": "standard", "count": 1, "balances": []}
VALID_ADJUST = {"email": "alice@example.com", "type": "standard", "amount": 1, "op": "credit"}


REJECTED_ADJUSTS: list[tuple[dict[str, str], Any, int, str]] = [
    ({}, VALID_ADJUST, 401, "unauthorized"),
    ({"X-Api-Key": "sk_nope"}, VALID_ADJUST, 401, "invalid_api_key"),
    ({"X-Api-Key": RIVAL_KEY}, VALID_ADJUST, 403, "forbidden"),
    ({"X-Api-Key": ACME_KEY}, b"{oops", 400, "invalid_json"),
    ({"X-Api-Key": ACME_KEY}, b"\xff\xfe\xfd", 400, "invalid_json"),
    ({"X-Api-Key": ACME_KEY}, b'{"email": "alice@example.com", "type": "standard", "amount": NaN, "op": "credit"}',
     400, "invalid_json"),
    ({"X-Api-Key": ACME_KEY}, b'{"type": "standard", "amount": 1, "op": "credit", "x": -Infinity}', 400,
     "invalid_json"),
    ({"X-Api-Key": ACME_KEY}, b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json"),
    ({"X-Api-Key": ACME_KEY, "Content-Type": "application/xml"}, b"<x/>", 400, "unsupported_media_type"),
    ({"X-Api-Key": ACME_KEY, "Content-Type": "text/plain"}, b"{}", 400, "unsupported_media_type"),
    ({"X-Api-Key": ACME_KEY}, {**VALID_ADJUST, "amount": 0}, 400, "invalid_amount"),
    ({"X-Api-Key": ACME_KEY}, {**VALID_ADJUST, "op": "steal"}, 400, "invalid_op"),
    ({"X-Api-Key": ACME_KEY}, {**VALID_ADJUST, "email": "x"}, 400, "invalid_email"),
    ({"X-Api-Key": ACME_KEY}, [VALID_ADJUST], 400, "invalid_request"),
    ({"X-Api-Key": ACME_KEY}, None, 400, "type_required"),  # no body: the required fields are missing
]


@pytest.mark.asyncio
async def test_rejected_requests_never_reach_the_handler(aiohttp_client: ClientFactory) -> None:
    spy = Spy(Reply(body=ADJUSTED))
    client = await client_for(aiohttp_client, adjustBalance=spy)
    path = f"/api/v1/paywall/{TOKEN_PW}/balances"
    for headers, body, status, code in REJECTED_ADJUSTS:
        if isinstance(body, bytes):
            resp = await client.post(path, data=body, headers={"Content-Type": "application/json", **headers})
        elif body is None:
            resp = await client.post(path, headers=headers)
        else:
            resp = await client.post(path, json=body, headers=headers)
        assert (await error_of(resp))[:2] == (status, code), (headers, body)
    assert spy.calls == []
    ok = await client.post(path, json=VALID_ADJUST, headers={"X-Api-Key": ACME_KEY})
    assert ok.status == 200 and await ok.json() == ADJUSTED
    [call] = spy.calls
    assert call.body == VALID_ADJUST and caller(call).principal.owner_id == "own_acme"
    assert caller(call).paywall is not None and caller(call).require_paywall().id == TOKEN_PW


@pytest.mark.asyncio
async def test_bad_parameters_never_reach_the_handler(aiohttp_client: ClientFactory) -> None:
    spy = Spy(Reply(body={"purchases": [], "paid": False, "balances": []}))
    client = await client_for(aiohttp_client, getUser=spy)
    for path, headers, code in [
        (f"/api/v1/paywall/{STRIPE_PW}/user?email=bad", {"X-Api-Key": ACME_KEY}, "invalid_email"),
        (f"/api/v1/paywall/{STRIPE_PW}/user?user_id=", {"X-Api-Key": ACME_KEY}, "invalid_request"),
        ("/api/v1/paywall/9999/user?email=a@b.co", {"X-Api-Key": ACME_KEY}, "not_found"),
        (f"/api/v1/paywall/{STRIPE_PW}/user?email=a@b.co", {"Authorization": "Bearer nope"}, "invalid_token"),
    ]:
        assert (await error_of(await client.get(path, headers=headers)))[1] == code
    assert spy.calls == []
    ok = await client.get(f"/api/v1/paywall/{STRIPE_PW}/user?email=alice@example.com", headers={"X-Api-Key": ACME_KEY})
    assert ok.status == 200 and len(spy.calls) == 1
    assert spy.calls[0].query == {"email": "alice@example.com"}


@pytest.mark.asyncio
async def test_a_header_parameter_is_validated(aiohttp_client: ClientFactory) -> None:
    spy = Spy(Reply(body={"checkoutUrl": "http://x.test/c", "userId": "u", "acquiring": "stripe"}))
    client = await client_for(aiohttp_client, startCheckout=spy)
    resp = await client.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", headers={"Idempotency-Key": "k" * 256},
                             json={"email": "a@example.com", "priceId": 101})
    assert (await error_of(resp))[:2] == (400, "invalid_request")
    assert spy.calls == []


# --- routing misses, the error boundary -----------------------------------------------------------


@pytest.mark.asyncio
async def test_unknown_route_is_404_json(aiohttp_client: ClientFactory) -> None:
    client = await client_for(aiohttp_client)
    for path in ("/nope", "/api/v1/paywall/3", "/api/v2/paywall/3/bootstrap", "/_emulator/nope"):
        assert (await error_of(await client.get(path)))[:2] == (404, "not_found")


@pytest.mark.asyncio
async def test_wrong_method_is_405_json_with_allow(aiohttp_client: ClientFactory) -> None:
    client = await client_for(aiohttp_client)
    resp = await client.delete(f"/api/v1/paywall/{STRIPE_PW}/bootstrap")
    assert (await error_of(resp))[:2] == (405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]
    resp = await client.get("/api/paywall/cancel-subscription")
    assert (await error_of(resp))[:2] == (405, "method_not_allowed")


@pytest.mark.asyncio
async def test_an_unexpected_exception_is_500_internal_error(aiohttp_client: ClientFactory) -> None:
    async def boom(call: Call) -> Reply:
        raise RuntimeError("a handler bug")

    client = await client_for(aiohttp_client, getBootstrap=boom)
    status, code, body = await error_of(await client.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap"))
    assert (status, code) == (500, "internal_error")
    assert "a handler bug" not in body["message"]  # internals stay in the log


@pytest.mark.asyncio
async def test_a_handler_may_stream_its_own_response(aiohttp_client: ClientFactory) -> None:
    async def raw(call: Call) -> web.StreamResponse:
        return web.Response(text="plain", content_type="text/plain")

    client = await client_for(aiohttp_client, getHealth=raw)
    resp = await client.get("/_emulator/health")
    assert resp.status == 200 and await resp.text() == "plain"


# --- binding at startup ---------------------------------------------------------------------------


def test_startup_fails_when_an_operation_has_no_handler() -> None:
    handlers = collect_handlers([control, *(m for p in bundled_products() for m in p.handlers)])
    del handlers["getBootstrap"]
    with pytest.raises(SpecError, match="operations without a handler: \\['getBootstrap'\\]"):
        bind_routes(web.Application(), load_specs(EmulatorConfig(), bundled_products()), handlers, {})


def test_startup_fails_for_a_handler_of_an_undeclared_operation() -> None:
    with pytest.raises(SpecError, match="noSuchOperation"):
        create_app(handler_overrides={"noSuchOperation": Spy(Reply())})


def test_two_handlers_for_one_operation_are_refused() -> None:
    from types import ModuleType

    from paywall_emulator.engine.routing import operation

    first, second = ModuleType("first"), ModuleType("second")

    @operation("getHealth")
    async def one(call: Call) -> Reply:
        return Reply()

    @operation("getHealth")
    async def two(call: Call) -> Reply:
        return Reply()

    first.one, second.two = one, two  # type: ignore[attr-defined]
    with pytest.raises(SpecError, match="two handlers"):
        collect_handlers([first, second])


def _spec_with(tmp_path: Path, path: str, item: dict[str, Any]) -> Path:
    doc = load_document(spec_path("monetize.openapi.yaml"))
    doc["paths"][path] = item
    target = tmp_path / "public.yaml"
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def test_a_public_path_under_the_control_prefix_is_refused(tmp_path: Path) -> None:
    spec = _spec_with(tmp_path, "/_emulator/sneaky", {"get": {
        "operationId": "sneaky", "tags": ["paywalls"], "x-emulator-unimplemented": True,
        "responses": {"200": {"description": "x"}}}})
    with pytest.raises(SpecError, match="/_emulator"):
        create_app(EmulatorConfig(spec_overrides={"monetize.openapi.yaml": spec}))


@pytest.mark.asyncio
async def test_an_unimplemented_operation_answers_501(aiohttp_client: ClientFactory, tmp_path: Path) -> None:
    spec = _spec_with(tmp_path, "/api/v1/later", {"get": {
        "operationId": "later", "tags": ["paywalls"], "security": [], "x-emulator-unimplemented": True,
        "responses": {"501": {"$ref": "#/components/responses/NotImplemented"}}}})
    client = await aiohttp_client(create_app(EmulatorConfig(spec_overrides={"monetize.openapi.yaml": spec})))
    assert (await error_of(await client.get("/api/v1/later")))[:2] == (501, "not_implemented")


# --- a missing required parameter ---------------------------------------------------------------------


PROBE = {"get": {
    "operationId": "probe", "tags": ["paywalls"], "security": [],
    "parameters": [
        {"name": "plain", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "named", "in": "query", "required": True,
         "schema": {"type": "string", "minLength": 2,
                    "x-error": {"code": "invalid_email", "error": "bad_name", "message": "named is required"}}},
        {"name": "X-Probe", "in": "header", "required": True,
         "schema": {"type": "string", "x-error": {"code": "missing_parameters", "message": "X-Probe is required"}}},
    ],
    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
                  "400": {"$ref": "#/components/responses/BadRequest"}}}}


@pytest.mark.asyncio
async def test_a_missing_required_parameter_answers_its_x_error(aiohttp_client: ClientFactory,
                                                                tmp_path: Path) -> None:
    """Absent, a required parameter answers its schema's own `x-error` (as a value violating the schema
    does); without one, the engine's generic 400 `invalid_request`, as before."""
    spy = Spy(Reply(body={}))
    spec = _spec_with(tmp_path, "/api/v1/probe", PROBE)
    client = await aiohttp_client(create_app(EmulatorConfig(spec_overrides={"monetize.openapi.yaml": spec}),
                                             handler_overrides={"probe": spy}))
    probe = {"X-Probe": "p"}
    generic = await (await client.get("/api/v1/probe?named=nn", headers=probe)).json()
    assert generic == {"error": "invalid_request", "code": "invalid_request",
                       "message": "query parameter 'plain' is required"}
    missing = await client.get("/api/v1/probe?plain=x", headers=probe)
    assert missing.status == 400
    assert await missing.json() == {"error": "bad_name", "code": "invalid_email", "message": "named is required",
                                    "details": [{"path": "query.named",
                                                 "message": "query parameter 'named' is required"}]}
    short = await (await client.get("/api/v1/probe?plain=x&named=n", headers=probe)).json()
    assert (short["error"], short["code"], short["message"]) == ("bad_name", "invalid_email", "named is required")
    header = await (await client.get("/api/v1/probe?plain=x&named=nn")).json()
    assert (header["error"], header["code"], header["message"]) == (
        "X-Probe is required", "missing_parameters", "X-Probe is required")  # `error` defaults to the message
    assert spy.calls == []
    ok = await client.get("/api/v1/probe?plain=x&named=nn", headers=probe)
    assert ok.status == 200 and len(spy.calls) == 1 and spy.calls[0].query == {"plain": "x", "named": "nn"}


@pytest.mark.asyncio
async def test_monetize_keeps_its_generic_answer_for_a_missing_parameter(aiohttp_client: ClientFactory) -> None:
    """monetize's only required non-path parameter has no `x-error`: its answer is unchanged."""
    client = await client_for(aiohttp_client)
    resp = await client.get("/_emulator/oauth/authorize")
    assert resp.status == 400
    assert await resp.json() == {"error": "invalid_request", "code": "invalid_request",
                                 "message": "query parameter 'flow' is required"}


def test_routes_try_static_paths_then_templates_fewest_segments_first_and_spanning_ones_last() -> None:
    """aiohttp tries the templates sharing a prefix in registration order: static paths never meet a
    template, a template only matches its own number of segments, and the gateway's `{path}` (which spans
    slashes) is tried after every template it could shadow."""
    routes = [r.resource.canonical for r in create_app().router.routes() if r.resource is not None]
    templated = [path for path in routes if "{" in path]
    assert routes[:len(routes) - len(templated)] == [p for p in routes if "{" not in p]
    spanning = "/api/v1/api-gateway/{providerId}/{path}"
    assert templated[-1] == spanning
    depths = [p.count("/") for p in templated if p != spanning]
    assert depths == sorted(depths)
