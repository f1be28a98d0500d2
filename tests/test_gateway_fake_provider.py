"""The built-in fake OpenAI-compatible provider on its own: replies derived from the request, SSE
framing, embeddings, its errors and failure options, and the standalone app used for direct calls."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
import requests

from paywall_emulator.engine.fake_provider import (
    FakeConnectionError,
    FakeOptions,
    FakeProvider,
    completion,
    create_app,
    embeddings,
    reply_text,
    stream_events,
)

from .gateway_support import ServedApp

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def respond(options: FakeOptions, method: str, path: str, body: object) -> tuple[int, bytes]:
    async def run() -> tuple[int, bytes]:
        reply = await FakeProvider().respond(options, method=method, path=path, now=NOW,
                                             body=json.dumps(body).encode() if body is not None else b"")
        return reply.status, b"".join([c async for c in reply.chunks])

    return asyncio.run(run())


def test_the_reply_echoes_the_last_user_message() -> None:
    request = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
                            {"role": "assistant", "content": "ok"},
                            {"role": "user", "content": [{"type": "text", "text": "second"},
                                                         {"type": "text", "text": "part"}]}]}
    assert reply_text(request) == "Echo: second part"
    assert reply_text({"messages": []}) == "Echo: (no user message)"
    body = completion({**request, "model": "m"}, 7)
    assert body["model"] == "m" and body["created"] == 7
    assert body["usage"]["completion_tokens"] == 3


def test_the_stream_frames_one_delta_per_word() -> None:
    events = stream_events({"messages": [{"role": "user", "content": "a b"}]}, 0)
    assert all(e.startswith(b"data: ") and e.endswith(b"\n\n") for e in events)
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "Echo: ", "a ", "b", None]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert len({c["id"] for c in chunks}) == 1


def test_embeddings_are_deterministic_per_text() -> None:
    one = embeddings({"input": ["x", "y", "x"]})
    vectors = [d["embedding"] for d in one["data"]]
    assert vectors[0] == vectors[2] != vectors[1]
    assert all(len(v) == 8 and all(-1 <= n <= 1 for n in v) for v in vectors)
    assert len(embeddings({"input": "x", "dimensions": 40})["data"][0]["embedding"]) == 40


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, 200),
    ("POST", "", {"messages": []}, 200),
    ("GET", "v1/chat/completions", None, 405),
    ("POST", "v1/chat/completions", {"no": "messages"}, 400),
    ("POST", "v1/embeddings", {"input": "x"}, 200),
    ("GET", "v1/models", None, 200),
    ("POST", "v1/images", {}, 404),
])
def test_endpoints_and_refusals(method: str, path: str, body: object, status: int) -> None:
    got, payload = respond(FakeOptions(), method, path, body)
    assert got == status
    if status >= 400:
        assert json.loads(payload)["error"]["type"] == "invalid_request_error"


def test_failure_options() -> None:
    status, payload = respond(FakeOptions(fail_status=429), "POST", "", {"messages": []})
    assert status == 429 and json.loads(payload)["error"]["code"] == "fake_failure"
    with pytest.raises(FakeConnectionError):
        respond(FakeOptions(fail_connection=True), "POST", "", {"messages": []})
    assert FakeOptions.from_mapping({"latency_ms": 5, "fail_status": 503}) == FakeOptions(latency_ms=5,
                                                                                          fail_status=503)


def test_the_standalone_app_serves_the_same_replies() -> None:
    body = {"messages": [{"role": "user", "content": "hello"}], "stream": True}
    with ServedApp(create_app(now=lambda: NOW)) as served:
        streamed = requests.post(f"{served.url}/v1/chat/completions", json=body, timeout=30)
        plain = requests.post(f"{served.url}/v1/chat/completions", json={**body, "stream": False}, timeout=30)
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    assert streamed.content == b"".join(stream_events(body, int(NOW.timestamp())))
    assert plain.json()["choices"][0]["message"]["content"] == "Echo: hello"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_echo_answers_every_method_with_what_arrived(method: str) -> None:
    status, payload = respond(FakeOptions(), method, "v1/echo", {"a": 1})
    assert status == 200
    assert json.loads(payload) == {"object": "echo", "method": method, "path": "/v1/echo", "body": '{"a": 1}',
                                   "body_bytes": 8}
    _, empty = respond(FakeOptions(), method, "/echo/", None)
    assert json.loads(empty)["body"] == "" and json.loads(empty)["path"] == "/echo"


def test_the_standalone_app_lets_a_caller_leave_mid_stream_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A load generator stopping drops its connections mid-answer: the standalone app ends that answer
    without an error (aiohttp would log a traceback for each) and keeps serving."""
    import socket
    import time

    body = json.dumps({"messages": [{"role": "user", "content": "a b c d e f"}], "stream": True}).encode()
    with ServedApp(create_app(FakeOptions(chunk_delay_ms=50), now=lambda: NOW)) as served:
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)  # the next chunks meet a closed connection
        after = requests.post(f"{served.url}/v1/chat/completions", json={"messages": [{"role": "user",
                                                                                      "content": "hi"}]}, timeout=30)
    assert after.status_code == 200
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
