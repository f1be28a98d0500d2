"""The proxy through the official `openai` client and raw HTTP: charged, streamed, blocked and
unauthorized replies, a top-up then a retried completion, user-id precedence, keys and models."""

from __future__ import annotations

from typing import Any

import openai
import pytest
import requests
from openai import OpenAI

from .http_support import (
    DEMO_KEY,
    MODEL,
    SHARED_KEY,
    UNIT,
    Pw,
    echo_cost,
    error_of,
    link_in,
    openai_client,
)

HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def pw(emu: object) -> Pw:
    return Pw(emu.base_url)  # type: ignore[attr-defined]


def test_charged_completion(emu: object, pw: Pw) -> None:
    client = openai_client(emu.base_url)  # type: ignore[attr-defined]
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, user="alice")  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 3)
    assert pw.balance("alice") == UNIT - echo_cost("hello there")


def test_streamed_completion_is_charged_when_the_stream_ends(emu: object, pw: Pw) -> None:
    client = openai_client(emu.base_url)  # type: ignore[attr-defined]
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, user="alice", stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: hello there"
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)  # usage chunk not asked for
    assert pw.balance("alice") == UNIT - echo_cost("hello there")
    with_usage = list(client.chat.completions.create(  # type: ignore[call-overload]
        model=MODEL, messages=HELLO, user="alice", stream=True, stream_options={"include_usage": True}))
    assert with_usage[-1].choices == [] and with_usage[-1].usage.completion_tokens == 3
    assert pw.balance("alice") == UNIT - 2 * echo_cost("hello there")


def test_blocked_reply_carries_the_topup_link_and_charges_nothing(emu: object, pw: Pw) -> None:
    client = openai_client(emu.base_url)  # type: ignore[attr-defined]
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, user="broke")  # type: ignore[arg-type]
    content = reply.choices[0].message.content or ""
    assert reply.choices[0].finish_reason == "stop" and reply.usage is None
    assert "Demo Chat" in content and "/_emulator/paywalls-ai/topup/" in link_in(content)
    assert pw.balance("broke") == 0
    streamed = list(client.chat.completions.create(model=MODEL, messages=HELLO, user="broke", stream=True))  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in streamed)
    assert "/_emulator/paywalls-ai/topup/" in text and streamed[-1].choices[0].finish_reason == "stop"
    assert pw.balance("broke") == 0


def test_topup_through_the_page_then_the_retried_completion_succeeds(emu: object, pw: Pw) -> None:
    client = openai_client(emu.base_url)  # type: ignore[attr-defined]
    blocked = client.chat.completions.create(model=MODEL, messages=HELLO, user="broke")  # type: ignore[arg-type]
    page = link_in(blocked.choices[0].message.content or "")
    assert requests.get(page, timeout=10).status_code == 200
    paid = requests.post(page, data={"action": "pay", "amount": "2", "card": "4242 4242 4242 4242"}, timeout=10)
    assert paid.status_code == 200 and "Payment received" in paid.text
    assert pw.balance("broke") == 2 * UNIT
    again = client.chat.completions.create(model=MODEL, messages=HELLO, user="broke")  # type: ignore[arg-type]
    assert again.choices[0].message.content == "Echo: hello there"
    assert pw.balance("broke") == 2 * UNIT - echo_cost("hello there")
    replay = requests.post(page, data={"action": "pay", "amount": "2"}, timeout=10)
    assert replay.status_code == 409 and pw.balance("broke") == 2 * UNIT - echo_cost("hello there")


def test_shared_mode_user_authorizes_then_is_charged_from_the_wallet(emu: object) -> None:
    shared = Pw(emu.base_url, SHARED_KEY)  # type: ignore[attr-defined]
    client = openai_client(emu.base_url, SHARED_KEY)  # type: ignore[attr-defined]
    refused = client.chat.completions.create(model=MODEL, messages=HELLO, user="dave")  # type: ignore[arg-type]
    link = link_in(refused.choices[0].message.content or "")
    assert "/authorize/" in link and shared.balance("dave") == 2 * UNIT
    status = shared.get("/v1/user/connect", params={"user": "dave"}).json()
    assert status["connected"] is False and status["url"] == link  # the same open request
    assert requests.post(link, data={"action": "approve"}, timeout=10).status_code == 200
    connected = shared.get("/v1/user/connect", params={"user": "dave"}).json()
    assert connected["connected"] is True and connected["connectedUser"]["externalUserId"] == "dave"
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, user="dave")  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Echo: hello there"
    assert shared.balance("dave") == 2 * UNIT - echo_cost("hello there", markup=(0, 1))
    assert shared.get("/v1/user/disconnect", params={"user": "dave"}).json()["success"] is True
    again = client.chat.completions.create(model=MODEL, messages=HELLO, user="dave")  # type: ignore[arg-type]
    assert "/authorize/" in (again.choices[0].message.content or "")
    assert shared.balance("dave") == 2 * UNIT - echo_cost("hello there", markup=(0, 1))


def test_user_id_precedence_body_header_url(emu: object, pw: Pw) -> None:
    for user in ("u_body", "u_header", "u_path"):
        assert pw.post("/v1/user/balance/deposit", json={"user": user, "amount": "1"}).status_code == 200
    chat = {"model": MODEL, "messages": HELLO}
    pw.post("/v1/u_path/chat/completions", json={**chat, "user": "u_body"}, headers={"X-Paywall-User": "u_header"})
    pw.post("/v1/u_path/chat/completions", json=chat, headers={"X-Paywall-User": "u_header"})
    pw.post("/v1/u_path/chat/completions", json=chat)
    one = echo_cost("hello there")
    assert [pw.balance(u) for u in ("u_body", "u_header", "u_path")] == [UNIT - one] * 3


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"json": {"model": MODEL, "messages": HELLO}}, "user_required"),
    ({"json": {"model": MODEL, "messages": HELLO, "user": "a b"}}, "invalid_user_id"),
    ({"json": {"model": MODEL, "messages": HELLO, "user": "x" * 128}}, "invalid_user_id"),
    ({"json": {"model": MODEL, "messages": HELLO}, "headers": {"X-Paywall-User": "a/b"}}, "invalid_user_id"),
    ({"json": {"model": MODEL, "messages": []}}, None),
    ({"json": {"messages": HELLO, "user": "alice"}}, None),
    ({"data": b"{nope", "headers": {"Content-Type": "application/json"}}, "invalid_json"),
])
def test_bad_requests_are_400_in_the_openai_shape_and_charge_nothing(emu: object, pw: Pw, kwargs: dict[str, object],
                                                                    code: str | None) -> None:
    response = pw.post("/v1/chat/completions", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and (code is None or error["code"] == code)
    assert pw.balance("alice") == UNIT


def test_keys_and_models(emu: object, pw: Pw) -> None:
    base = emu.base_url  # type: ignore[attr-defined]
    with pytest.raises(openai.AuthenticationError):
        openai_client(base, "sk-paywalls-v1-unknown").chat.completions.create(model=MODEL, messages=HELLO, user="a")  # type: ignore[arg-type]
    for headers in ({}, {"Authorization": "Basic x"}, {"Authorization": "Bearer sk-paywalls-v1-unknown"}):
        response = Pw(base, None).get("/v1/models", headers=headers)
        assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        openai_client(base).chat.completions.create(model="gpt-nope", messages=HELLO, user="alice")  # type: ignore[arg-type]
    models = openai_client(base, DEMO_KEY).models.list()
    assert [m.id for m in models.data] == [MODEL]
    raw = pw.get("/v1/models").json()["data"][0]
    assert raw["pricing"] == {"prompt": "0.5", "completion": "1.5", "request": "0.0001"}
    assert pw.balance("alice") == UNIT


@pytest.mark.parametrize("path_user", ["a%20b", "a%2Fb", "x" * 128])
def test_a_bad_user_in_the_path_is_400_invalid_user_id(pw: Pw, path_user: str) -> None:
    response = pw.post(f"/v1/{path_user}/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_user_id"
    assert pw.balance("alice") == UNIT


def test_the_openai_client_retries_a_transient_error_then_is_charged_once(emu: Any, pw: Pw) -> None:
    emu.control.add_fault("createChatCompletion", status=503, times=1)  # 5xx: transient, the client retries
    client = OpenAI(base_url=f"{emu.base_url}/v1", api_key=DEMO_KEY, max_retries=1)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO, user="alice")  # type: ignore[arg-type]
    assert raw.retries_taken == 1 and raw.parse().choices[0].message.content == "Echo: hello there"
    assert pw.balance("alice") == UNIT - echo_cost("hello there")  # the refused attempt charged nothing
    emu.control.add_fault("createChatCompletion", status=503, times=1)
    with pytest.raises(openai.InternalServerError) as failed:
        openai_client(emu.base_url).chat.completions.create(model=MODEL, messages=HELLO, user="alice")  # type: ignore[arg-type]
    assert failed.value.status_code == 503 and isinstance(failed.value.body, dict)  # OpenAI-style, parsed
    assert pw.balance("alice") == UNIT - echo_cost("hello there")
