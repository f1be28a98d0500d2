"""A paywall whose provider is a real http upstream: answers relayed and charged from the usage the
upstream reported (streamed too), provider errors relayed uncharged, an unreachable provider 502."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from paywall_emulator.engine.fake_provider import create_app

from ..gateway_support import ServedApp
from .http_support import MODEL, UNIT, Pw, cost, echo_cost, error_of, openai_client

HELLO = [{"role": "user", "content": "over the wire"}]


def world(upstream: str) -> dict[str, Any]:
    return {"paywalls-ai": {"paywalls": [{
        "id": "pw_up", "name": "Upstream App", "owner": "usr_o", "keys": ["sk-paywalls-v1-up"],
        "markup_percent": "20", "upstream": upstream, "upstream_headers": {"Authorization": "Bearer byok-secret"},
        "models": [{"id": MODEL, "pricing": {"prompt": "0.5", "completion": "1.5", "request": "0.0001"}}],
        "balances": {"alice": "1"}}]}}


@pytest.fixture
def provider() -> Iterator[ServedApp]:
    with ServedApp(create_app()) as served:
        yield served


def failing_app(seen: list[dict[str, str]]) -> web.Application:
    async def fail(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"error": {"message": "overloaded", "type": "server_error", "param": None,
                                             "code": "overloaded"}}, status=503)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", fail)
    return app


def test_real_upstream_is_relayed_and_charged(emu: Any, provider: ServedApp) -> None:
    emu.control.load_world(world(f"{provider.url}/v1"))
    client, pw = openai_client(emu.base_url, "sk-paywalls-v1-up"), Pw(emu.base_url, "sk-paywalls-v1-up")
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, user="alice")  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Echo: over the wire"
    assert pw.balance("alice") == UNIT - echo_cost("over the wire")
    streamed = list(client.chat.completions.create(model=MODEL, messages=HELLO, user="alice", stream=True))  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Echo: over the wire"
    assert pw.balance("alice") == UNIT - 2 * echo_cost("over the wire")


def test_provider_errors_are_relayed_and_charge_nothing(emu: Any) -> None:
    seen: list[dict[str, str]] = []
    with ServedApp(failing_app(seen)) as failing:
        emu.control.load_world(world(f"{failing.url}/v1"))
        pw = Pw(emu.base_url, "sk-paywalls-v1-up")
        response = pw.post("/v1/chat/completions", json={"model": MODEL, "messages": HELLO, "user": "alice"})
        assert response.status_code == 503 and response.json()["error"]["code"] == "overloaded"
        streamed = pw.post("/v1/chat/completions",
                           json={"model": MODEL, "messages": HELLO, "user": "alice", "stream": True})
        assert streamed.status_code == 503
    assert seen[0]["Authorization"] == "Bearer byok-secret"  # the paywall's provider key, never the caller's
    assert json.loads(pw.get("/v1/user/balance", params={"user": "alice"}).text)["balance"] == str(UNIT)


def test_unreachable_provider_is_502_and_charges_nothing(emu: Any) -> None:
    emu.control.load_world(world("http://127.0.0.1:9/v1"))
    pw = Pw(emu.base_url, "sk-paywalls-v1-up")
    response = pw.post("/v1/chat/completions", json={"model": MODEL, "messages": HELLO, "user": "alice"})
    assert response.status_code == 502 and error_of(response)["code"] == "upstream_error"
    assert pw.balance("alice") == UNIT


def relayed(emu: Any, content: bytes) -> tuple[requests.Response, Pw]:
    """Alice's completion through a paywall whose upstream answers `content` as application/json."""

    async def complete(request: web.Request) -> web.Response:
        return web.Response(body=content, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", complete)
    with ServedApp(app) as upstream:
        emu.control.load_world(world(f"{upstream.url}/v1"))
        pw = Pw(emu.base_url, "sk-paywalls-v1-up")
        return pw.request("POST", "/v1/chat/completions", json={"model": MODEL, "messages": HELLO,
                                                               "user": "alice"}), pw


def test_a_json_answer_is_relayed_byte_for_byte_and_still_charged(emu: Any) -> None:
    """The provider's own JSON text reaches the client (indentation, key order, escapes), not a
    re-encoding of it; the usage in it is still what is charged, and the answer is still checked
    against the spec."""
    answer = {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": MODEL,
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "héllo \u2028 wire"},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}
    text = json.dumps(answer, indent=2).encode()  # pretty, ASCII-escaped: unlike the emulator's own JSON

    resp, pw = relayed(emu, text)
    assert resp.status_code == 200 and resp.content == text
    assert pw.balance("alice") == UNIT - cost(3, 3)


@pytest.mark.parametrize("encode", [lambda text: text.encode("utf-16"), lambda text: b"\xef\xbb\xbf" + text.encode()],
                         ids=["utf-16", "utf-8 with a byte-order mark"])
def test_json_in_another_encoding_is_answered_as_plain_utf8(emu: Any, encode: Callable[[str], bytes]) -> None:
    """JSON the provider sent in UTF-16, or with a byte-order mark, is not relayed as it came (clients
    decode JSON as UTF-8 without a mark): the client gets the same JSON as plain UTF-8, still charged."""
    answer = {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": MODEL,
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "héllo"},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}

    resp, pw = relayed(emu, encode(json.dumps(answer)))
    assert resp.status_code == 200 and not resp.content.startswith(b"\xef\xbb\xbf")
    assert json.loads(resp.content.decode("utf-8")) == answer
    assert pw.balance("alice") == UNIT - cost(3, 3)
