"""The metered gateway over HTTP: identity, paywall id, provider errors, the 402 the SDK parses,
charging and refunds, the fake provider's replies, and forwarding to a real upstream URL."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from paywall_emulator.products.monetize.upstream import UPSTREAMS_KEY
from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import (
    ADVANCED,
    ALICE,
    BOB,
    CAROL,
    CHAT,
    COSTLY,
    DISABLED,
    FAIL_503,
    FREE,
    NY_PW,
    NY_STANDARD,
    REMOTE,
    STANDARD,
    UNREACHABLE,
    ServedApp,
    adjust,
    balances,
    freeze,
    gateway,
    sdk_gateway_error,
    seeded,
    token_seed,
)


@pytest.fixture
def tokens(emu: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    with seeded(emu, token_seed()):
        yield emu


def call(emu: ThreadedEmulator, provider: str, path: str = "v1/chat/completions", *, user: str | None = BOB,
         body: Any = CHAT, paywall: str | None = "15", headers: dict[str, str] | None = None) -> requests.Response:
    h = dict(headers or {})
    if user is not None:
        h["X-User-ID"] = user
    if paywall is not None:
        h.setdefault("X-Paywall-Id", paywall)
    return requests.post(gateway(emu.base_url, provider, path, paywall=paywall), json=body, headers=h, timeout=30)


def code_of(resp: requests.Response) -> tuple[int, str]:
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    return resp.status_code, resp.json()["code"]


# --- success ------------------------------------------------------------------------------------


def test_x_user_id_call_returns_the_fake_completion_and_charges_one(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 5, "credit")
    resp = call(tokens, STANDARD)
    assert resp.status_code == 200
    assert resp.headers["X-Query-Type"] == "standard"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Query-Type" in resp.headers["Access-Control-Expose-Headers"]
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Echo: tell me a story"}
    assert balances(tokens.base_url)["standard"] == 4


def test_the_fake_reply_is_deterministic(tokens: ThreadedEmulator) -> None:
    freeze(tokens.control)  # `created` is the same too
    first, second = call(tokens, FREE).json(), call(tokens, FREE).json()
    assert first == second
    assert first["id"].startswith("chatcmpl-")


def test_embeddings_and_models_through_the_gateway(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 5, "credit")
    emb = call(tokens, STANDARD, "v1/embeddings", body={"input": ["a", "b"], "dimensions": 4})
    assert emb.status_code == 200
    vectors = [d["embedding"] for d in emb.json()["data"]]
    assert len(vectors) == 2 and all(len(v) == 4 for v in vectors) and vectors[0] != vectors[1]
    again = call(tokens, STANDARD, "v1/embeddings", body={"input": "a", "dimensions": 4}).json()
    assert again["data"][0]["embedding"] == vectors[0]
    models = requests.get(gateway(tokens.base_url, STANDARD, "v1/models"), headers={"X-User-ID": BOB}, timeout=30)
    assert models.status_code == 200 and models.json()["data"][0]["object"] == "model"
    assert balances(tokens.base_url)["standard"] == 2


def test_the_free_type_is_never_charged(tokens: ThreadedEmulator) -> None:
    assert balances(tokens.base_url)["free"] == 0
    for _ in range(3):
        resp = call(tokens, FREE)
        assert resp.status_code == 200
        assert resp.headers["X-Query-Type"] == "free"
    assert balances(tokens.base_url)["free"] == 0


def test_the_provider_cost_is_charged_and_checked_whole(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "advanced", 2, "credit")
    refused = call(tokens, COSTLY)
    assert code_of(refused) == (402, "not-enough-queries")
    assert refused.json()["details"]["currentBalance"] == {"type": "advanced", "count": 2}
    assert balances(tokens.base_url)["advanced"] == 2  # no partial charge
    adjust(tokens.base_url, "advanced", 1, "credit")
    assert call(tokens, COSTLY).status_code == 200
    assert balances(tokens.base_url)["advanced"] == 0


# --- identity -----------------------------------------------------------------------------------


def test_bearer_wins_over_x_user_id(tokens: ThreadedEmulator) -> None:
    token = tokens.control.mint_token("15", user_id=ALICE)
    before_alice, before_bob = balances(tokens.base_url, user_id=ALICE), balances(tokens.base_url)
    resp = call(tokens, STANDARD, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert balances(tokens.base_url, user_id=ALICE)["standard"] == before_alice["standard"] - 1
    assert balances(tokens.base_url) == before_bob


def test_a_bad_bearer_is_401_invalid_token_and_charges_nothing(tokens: ThreadedEmulator) -> None:
    before = balances(tokens.base_url, user_id=ALICE)
    resp = call(tokens, STANDARD, user=ALICE, headers={"Authorization": "Bearer nope"})
    assert code_of(resp) == (401, "invalid_token")
    assert balances(tokens.base_url, user_id=ALICE) == before


def test_no_identity_is_401(tokens: ThreadedEmulator) -> None:
    resp = call(tokens, STANDARD, user=None)
    assert code_of(resp) == (401, "unauthorized")
    assert sdk_gateway_error(resp)["code"] == "unauthorized"


def test_an_unknown_x_user_id_becomes_a_new_user_with_the_trial_allowance(tokens: ThreadedEmulator) -> None:
    users_before = len(tokens.control.state()["monetize"]["users"])
    first = call(tokens, STANDARD, user="ext_newcomer")
    assert first.status_code == 200
    assert balances(tokens.base_url, user_id="ext_newcomer") == {"standard": 9, "advanced": 2, "free": 0}
    assert call(tokens, STANDARD, user="ext_newcomer").status_code == 200
    assert balances(tokens.base_url, user_id="ext_newcomer")["standard"] == 8
    state = tokens.control.state()["monetize"]
    assert len(state["users"]) == users_before + 1
    link = next(link for link in state["links"] if link["meta"].get("userId") == "ext_newcomer")
    assert link["paywall_id"] == "15"


def test_refused_calls_create_no_user(tokens: ThreadedEmulator) -> None:
    users_before = len(tokens.control.state()["monetize"]["users"])
    refused = call(tokens, COSTLY, user="ext_ghost")  # a newcomer's trial (2 advanced) is below the cost 3
    assert code_of(refused) == (402, "not-enough-queries")
    assert refused.json()["details"]["balances"] == [{"balances": [
        {"type": "standard", "count": 10}, {"type": "advanced", "count": 2}, {"type": "free", "count": 0}]}]
    assert code_of(call(tokens, "nope", user="ext_ghost")) == (404, "provider-disabled")
    assert code_of(call(tokens, DISABLED, user="ext_ghost")) == (404, "provider-disabled")
    assert len(tokens.control.state()["monetize"]["users"]) == users_before


def test_x_user_id_names_the_integrator_id_of_the_paywall(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 2, "credit", paywall=NY_PW)
    assert call(tokens, NY_STANDARD, user="ext_bob_ny", paywall=NY_PW).status_code == 200
    assert balances(tokens.base_url, paywall=NY_PW)["standard"] == 1


def test_a_known_user_new_to_the_paywall_is_linked_with_the_trial_allowance(tokens: ThreadedEmulator) -> None:
    assert call(tokens, ADVANCED, user=CAROL).status_code == 200
    assert balances(tokens.base_url, user_id=CAROL) == {"standard": 10, "advanced": 1, "free": 0}


# --- paywall id and provider errors -------------------------------------------------------------


def test_paywall_id_from_query_or_header(tokens: ThreadedEmulator) -> None:
    assert call(tokens, FREE, paywall=None, headers={"X-Paywall-Id": "15"}).status_code == 200
    only_query = requests.post(gateway(tokens.base_url, FREE), json=CHAT, headers={"X-User-ID": BOB}, timeout=30)
    assert only_query.status_code == 200
    assert code_of(call(tokens, FREE, headers={"X-Paywall-Id": "3"})) == (400, "invalid_request")
    assert code_of(call(tokens, FREE, paywall=None)) == (400, "paywall_id_required")


@pytest.mark.parametrize(("provider", "paywall", "message"), [
    ("0000-nope", "15", "No API provider with this id on this paywall"),  # unknown provider
    (STANDARD, NY_PW, "No API provider with this id on this paywall"),  # another paywall's provider
    (DISABLED, "15", "The API provider is disabled"),
    (STANDARD, "3", "Tokenization is off on this paywall"),
])
def test_no_usable_provider_is_404_provider_disabled_and_charges_nothing(
        tokens: ThreadedEmulator, provider: str, paywall: str, message: str) -> None:
    adjust(tokens.base_url, "standard", 1, "credit")
    before = tokens.control.state()
    resp = call(tokens, provider, paywall=paywall, headers={"X-Paywall-Id": paywall})
    assert code_of(resp) == (404, "provider-disabled")
    assert resp.json()["error"] == "provider-disabled" and resp.json()["message"] == message
    assert sdk_gateway_error(resp)["code"] == "provider-disabled"  # what the SDK's gateway.call() raises
    assert "X-Query-Type" not in resp.headers
    assert tokens.control.state() == before


def test_an_unknown_paywall_is_404_not_found(tokens: ThreadedEmulator) -> None:
    assert code_of(call(tokens, STANDARD, paywall="999", headers={"X-Paywall-Id": "999"})) == (404, "not_found")


# --- 402 -------------------------------------------------------------------------------------------


def test_the_402_body_reads_the_way_the_sdk_reads_it(tokens: ThreadedEmulator) -> None:
    resp = call(tokens, STANDARD)
    assert code_of(resp) == (402, "not-enough-queries")
    assert resp.json()["error"] == "not-enough-queries"
    assert "X-Query-Type" not in resp.headers
    err = sdk_gateway_error(resp)
    assert err == {
        "name": "QuotaExceededError", "code": "not_enough_queries", "status": 402, "message": "Not enough queries",
        "balances": [{"type": "standard", "count": 0}, {"type": "advanced", "count": 0}, {"type": "free", "count": 0}],
        "queryType": "standard", "currentBalance": {"type": "standard", "count": 0},
    }


# --- failures: refunds ------------------------------------------------------------------------


def test_an_upstream_5xx_passes_through_and_is_refunded(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 1, "credit")
    resp = call(tokens, FAIL_503)
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "fake_failure"  # the upstream's own body, unmodified
    assert "X-Query-Type" not in resp.headers
    assert balances(tokens.base_url)["standard"] == 1


def test_an_upstream_4xx_passes_through_and_is_refunded(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 1, "credit")
    resp = call(tokens, STANDARD, body={"model": "x"})  # no messages: the fake answers 400
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert balances(tokens.base_url)["standard"] == 1


def test_an_unreachable_upstream_is_502_and_refunded(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 1, "credit")
    resp = call(tokens, UNREACHABLE)
    assert code_of(resp) == (502, "upstream_error")
    assert balances(tokens.base_url)["standard"] == 1


def test_a_closed_port_upstream_url_is_502_and_refunded(emu: ThreadedEmulator) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with seeded(emu, token_seed(remote_url=f"http://127.0.0.1:{port}")):
        adjust(emu.base_url, "standard", 1, "credit")
        assert code_of(call(emu, REMOTE)) == (502, "upstream_error")
        assert balances(emu.base_url)["standard"] == 1


def test_cors_preflight_admits_the_gateway_headers(tokens: ThreadedEmulator) -> None:
    resp = requests.options(gateway(tokens.base_url, STANDARD, "v1/chat/completions"), timeout=30, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-user-id,x-paywall-id,content-type"})
    assert resp.status_code == 204
    allowed = resp.headers["Access-Control-Allow-Headers"].lower()
    assert all(h in allowed for h in ("authorization", "x-user-id", "x-paywall-id", "prefer"))


# --- a real upstream URL -----------------------------------------------------------------------


class Recorder:
    """A local upstream that records what it got and answers 201 with a gzip body."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.payload = gzip.compress(b'{"ok": true}')

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            self.seen.append({"method": request.method, "path_qs": request.raw_path, "headers": dict(request.headers),
                              "body": await request.read()})
            return web.Response(status=201, body=self.payload, headers={
                "Content-Type": "application/json", "Content-Encoding": "gzip", "X-Upstream": "yes",
                "Access-Control-Allow-Origin": "https://upstream.example"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


def test_a_real_upstream_gets_the_call_forwarded_and_answers_unmodified(emu: ThreadedEmulator) -> None:
    recorder = Recorder()
    with ServedApp(recorder.app()) as upstream, seeded(emu, token_seed(
            remote_url=f"{upstream.url}/base/", remote_headers={"Authorization": "Bearer sk-upstream",
                                                                "X-Default": "provider"})):
        adjust(emu.base_url, "standard", 3, "credit")
        token = emu.control.mint_token("15", user_id=BOB)
        resp = requests.post(
            gateway(emu.base_url, REMOTE, "v1/foo%20bar/baz") + "&x=1&y=two", data=b"raw \x00 bytes",
            headers={"Authorization": f"Bearer {token}", "X-Paywall-Id": "15", "X-SDK-Version": "3.5.1",
                     "Content-Type": "application/octet-stream", "X-Default": "caller", "X-Custom": "kept",
                     "Prefer": "wait=60", "Accept-Encoding": "gzip"}, stream=True, timeout=30)
        raw = resp.raw.read(decode_content=False)
        assert balances(emu.base_url)["standard"] == 2
    assert resp.status_code == 201
    assert raw == recorder.payload  # the gzip bytes, untouched
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["X-Upstream"] == "yes"
    assert resp.headers["X-Query-Type"] == "standard"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    [seen] = recorder.seen
    assert seen["method"] == "POST"
    assert seen["path_qs"] == "/base/v1/foo%20bar/baz?x=1&y=two"
    assert seen["body"] == b"raw \x00 bytes"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["authorization"] == "Bearer sk-upstream"  # the provider's key, not the user's Bearer
    assert headers["x-default"] == "provider"
    assert headers["x-custom"] == "kept" and headers["prefer"] == "wait=60"
    assert headers["content-type"] == "application/octet-stream"
    assert not {"x-paywall-id", "x-sdk-version", "x-user-id"} & set(headers)


def test_a_real_upstream_get_without_path_and_multipart_bodies(emu: ThreadedEmulator) -> None:
    recorder = Recorder()
    with ServedApp(recorder.app()) as upstream, seeded(emu, token_seed(remote_url=upstream.url)):
        adjust(emu.base_url, "standard", 3, "credit")
        got = requests.get(gateway(emu.base_url, REMOTE), headers={"X-User-ID": BOB}, timeout=30)
        form = requests.post(gateway(emu.base_url, REMOTE, "upload"), headers={"X-User-ID": BOB},
                             files={"file": ("a.txt", b"hello")}, data={"k": "v"}, timeout=30)
        assert balances(emu.base_url)["standard"] == 1
    assert got.status_code == 201 and form.status_code == 201
    assert [s["method"] for s in recorder.seen] == ["GET", "POST"]
    assert recorder.seen[0]["path_qs"] == "/"
    assert recorder.seen[1]["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="a.txt"' in recorder.seen[1]["body"] and b"hello" in recorder.seen[1]["body"]


def test_upstream_non_json_error_passes_through(emu: ThreadedEmulator) -> None:
    async def teapot(request: web.Request) -> web.Response:
        return web.Response(status=418, text="short and stout")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", teapot)
    with ServedApp(app) as upstream, seeded(emu, token_seed(remote_url=upstream.url)):
        adjust(emu.base_url, "standard", 1, "credit")
        resp = call(emu, REMOTE)
        assert resp.status_code == 418 and resp.text == "short and stout"
        assert sdk_gateway_error(resp)["code"] == "http_418"
        assert balances(emu.base_url)["standard"] == 1


def test_the_gateway_body_is_opaque(tokens: ThreadedEmulator) -> None:
    resp = requests.post(gateway(tokens.base_url, FREE), data=b"{not json", timeout=30,
                         headers={"X-User-ID": BOB, "Content-Type": "application/json"})
    assert resp.status_code == 400  # the fake provider's own refusal, not the emulator's validation
    assert json.loads(resp.content)["error"]["code"] == "invalid_body"


# --- every method: PUT, PATCH, DELETE like POST ---------------------------------------------------

OTHER_METHODS = ("PUT", "PATCH", "DELETE")


def send(emu: ThreadedEmulator, method: str, provider: str, path: str = "", *,
         body: bytes | None = None) -> requests.Response:
    headers = {"X-User-ID": BOB, "X-Paywall-Id": "15"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(method, gateway(emu.base_url, provider, path), data=body, headers=headers, timeout=30)


def fake_requests(emu: ThreadedEmulator) -> int:
    assert emu.app is not None
    return emu.app[UPSTREAMS_KEY].fake.requests


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_every_method_reaches_the_fake_provider_and_is_charged_once(tokens: ThreadedEmulator, method: str) -> None:
    adjust(tokens.base_url, "standard", 2, "credit")
    body = None if method == "DELETE" else b'{"name": "kept as sent"}'
    resp = send(tokens, method, STANDARD, "v1/echo", body=body)
    assert resp.status_code == 200
    assert resp.headers["X-Query-Type"] == "standard"
    assert resp.json() == {"object": "echo", "method": method, "path": "/v1/echo",
                           "body": (body or b"").decode(), "body_bytes": len(body or b"")}
    assert balances(tokens.base_url)["standard"] == 1


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_every_method_is_402_without_a_balance_and_forwards_nothing(tokens: ThreadedEmulator, method: str) -> None:
    before = fake_requests(tokens)
    resp = send(tokens, method, STANDARD, "v1/echo", body=b"{}")
    assert code_of(resp) == (402, "not-enough-queries")
    assert sdk_gateway_error(resp)["queryType"] == "standard"
    assert fake_requests(tokens) == before
    assert balances(tokens.base_url)["standard"] == 0


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_a_method_the_fake_endpoint_refuses_is_passed_through_and_refunded(tokens: ThreadedEmulator,
                                                                           method: str) -> None:
    adjust(tokens.base_url, "standard", 1, "credit")
    resp = send(tokens, method, STANDARD, body=json.dumps(CHAT).encode())  # chat completions are POST only
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "method_not_allowed"  # the fake's own body
    assert "X-Query-Type" not in resp.headers
    assert balances(tokens.base_url)["standard"] == 1


def method_echo(seen: list[str]) -> web.Application:
    """A real upstream answering every method with what it received (methods appended to `seen`)."""
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(request.method)
        return web.json_response({"method": request.method, "path_qs": request.raw_path, "body": body.decode()})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_every_method_reaches_a_real_upstream_and_is_charged_like_post(emu: ThreadedEmulator, method: str) -> None:
    seen: list[str] = []
    with ServedApp(method_echo(seen)) as upstream, seeded(emu, token_seed(remote_url=f"{upstream.url}/base")):
        adjust(emu.base_url, "standard", 2, "credit")
        with_path = send(emu, method, REMOTE, "v1/items/7", body=b'{"n": 1}')
        bare = send(emu, method, REMOTE)  # no path, no body (a DELETE's usual shape)
        assert balances(emu.base_url)["standard"] == 0
        refused = send(emu, method, REMOTE, "v1/items/7", body=b'{"n": 2}')
        assert balances(emu.base_url)["standard"] == 0
    assert with_path.status_code == 200 and with_path.headers["X-Query-Type"] == "standard"
    assert with_path.json() == {"method": method, "path_qs": "/base/v1/items/7", "body": '{"n": 1}'}
    assert bare.status_code == 200 and bare.headers["X-Query-Type"] == "standard"
    assert bare.json() == {"method": method, "path_qs": "/base", "body": ""}
    assert code_of(refused) == (402, "not-enough-queries")
    assert seen == [method, method]  # the refused call never reached the upstream


def test_the_preflight_admits_every_gateway_method(tokens: ThreadedEmulator) -> None:
    for method in OTHER_METHODS:
        resp = requests.options(gateway(tokens.base_url, STANDARD, "v1/echo"), timeout=30, headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": method})
        assert resp.status_code == 204
        assert method in resp.headers["Access-Control-Allow-Methods"]


def test_a_refund_never_takes_the_balance_past_the_maximum(emu: ThreadedEmulator) -> None:
    maximum = 2_147_483_647

    async def fill_then_fail(request: web.Request) -> web.Response:
        # While the call is reserved (balance maximum - 1), a credit fills the balance up again.
        credited = await asyncio.to_thread(adjust, emu.base_url, "standard", 1, "credit")
        return web.json_response({"credited": credited.status_code}, status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fill_then_fail)
    with ServedApp(app) as upstream, seeded(emu, token_seed(remote_url=upstream.url)):
        adjust(emu.base_url, "standard", maximum, "credit")  # bob's standard starts at 0
        resp = call(emu, REMOTE)
        assert resp.status_code == 503 and resp.json() == {"credited": 200}
        assert balances(emu.base_url)["standard"] == maximum  # the refund stopped at the maximum
