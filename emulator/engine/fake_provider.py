"""The built-in deterministic OpenAI-compatible provider (a gateway provider with `upstream: fake`).

Answers chat completions (JSON, or SSE with `stream: true`), embeddings, the model list, and `echo`
(any method: what arrived, to show that PUT/PATCH/DELETE and their bodies got through). Every reply
is derived from the request alone (plus the emulator clock for `created`), so tests can assert on it.
Per-provider options (seed `fake:`): `latency_ms` before the answer, `chunk_delay_ms` between SSE
events, `fail_status` (answer that status with an OpenAI-style error), `fail_connection` (behave like
an unreachable host), and two switches for a body that goes wrong after the status line:
`break_after_chunks` (the connection drops after N body chunks) and `stall_after_chunks` (nothing more
after N chunks, the connection held open until the caller leaves); with `fail_status` they make a 5xx
whose body breaks off or stalls after its headers. `FakeProvider` is the per-app runtime the gateway
calls in-process; `create_app` serves the same provider standalone over HTTP (direct calls, "real
upstream" tests, the bench).
HTTP layer: may import aiohttp; holds no business rules about balances.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from .clock import EmulatorClock
from .structs import struct

MODEL = "fake-gpt-emulator"
EMBEDDING_DIMENSIONS = 8
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
JSON_HEADERS = {"Content-Type": "application/json"}


class FakeConnectionError(ConnectionError):
    """The fake provider was told to behave like an unreachable host (`fail_connection`)."""


class FakeBrokenStreamError(ConnectionResetError):
    """The fake provider's body broke off mid-way (`break_after_chunks`), as a dropped connection does."""


@struct(frozen=True, kw_only=True)
class FakeOptions:
    latency_ms: int = 0
    chunk_delay_ms: int = 0
    fail_status: int | None = None
    fail_connection: bool = False
    break_after_chunks: int | None = None
    stall_after_chunks: int | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> FakeOptions:
        """Options from a seed's `fake:` mapping (already checked by the seed loader)."""
        status, cut, stall = raw.get("fail_status"), raw.get("break_after_chunks"), raw.get("stall_after_chunks")
        return cls(latency_ms=int(raw.get("latency_ms") or 0), chunk_delay_ms=int(raw.get("chunk_delay_ms") or 0),
                   fail_status=int(status) if status is not None else None,
                   fail_connection=bool(raw.get("fail_connection")),
                   break_after_chunks=int(cut) if cut is not None else None,
                   stall_after_chunks=int(stall) if stall is not None else None)


@struct
class FakeReply:
    """An answer of the fake provider: status, headers and the body as a stream of chunks."""

    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]
    reason: str | None = None


@struct
class FakeProvider:
    """The per-app runtime of the fake provider.

    `hold_streams()` makes every SSE stream pause after its first event until the returned event is
    set, so a test can prove chunks reach the client before the provider finishes. The counters tell
    how many streams started, ran to their end, and were closed early (client gone).
    """

    hold: asyncio.Event | None = None
    streams_started: int = 0
    streams_finished: int = 0
    streams_closed_early: int = 0
    requests: int = 0
    bodies_broken: int = 0  # bodies cut by `break_after_chunks`
    bodies_stalled: int = 0  # bodies that went silent by `stall_after_chunks`

    def hold_streams(self) -> asyncio.Event:
        """Pause every stream after its first event until the returned event is set (call on the loop)."""
        self.hold = asyncio.Event()
        return self.hold

    async def respond(self, options: FakeOptions, *, method: str, path: str, body: bytes,
                      now: datetime) -> FakeReply:
        """The reply to one request; raises `FakeConnectionError` for `fail_connection`. The body
        switches (`break_after_chunks`, `stall_after_chunks`) apply to whatever the reply is."""
        reply = await self._respond(options, method=method, path=path, body=body, now=now)
        if options.break_after_chunks is not None or options.stall_after_chunks is not None:
            reply.chunks = self._switched(reply.chunks, options)
        return reply

    async def _switched(self, chunks: AsyncIterator[bytes], options: FakeOptions) -> AsyncIterator[bytes]:
        """The body cut or stalled after N chunks, or after its last one when it has fewer: either way
        it never ends normally."""
        limit = min(n for n in (options.break_after_chunks, options.stall_after_chunks) if n is not None)
        sent = 0
        try:
            async for chunk in chunks:
                if sent == limit:
                    break
                yield chunk
                sent += 1
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        if options.break_after_chunks is not None and options.break_after_chunks <= limit:
            self.bodies_broken += 1
            raise FakeBrokenStreamError(f"fake provider: connection dropped after {sent} body chunks")
        self.bodies_stalled += 1
        await asyncio.Event().wait()  # silent for good: only the caller leaving ends it

    async def _respond(self, options: FakeOptions, *, method: str, path: str, body: bytes,
                       now: datetime) -> FakeReply:
        self.requests += 1
        if options.latency_ms:
            await asyncio.sleep(options.latency_ms / 1000)
        if options.fail_connection:
            raise FakeConnectionError("fake provider: connection refused (fail_connection)")
        if options.fail_status is not None:
            return _error(options.fail_status, "The fake provider was configured to fail", "server_error",
                          "fake_failure")
        route = path.strip("/")
        endpoint = route.rsplit("/", 1)[-1]
        if endpoint == "echo":
            return _json_reply(200, echo(method, route, body))
        if route == "" or route.endswith("chat/completions"):
            if method != "POST":
                return _error(405, "Use POST for chat completions", "invalid_request_error", "method_not_allowed")
            return self._chat(body, now, options)
        if endpoint == "embeddings":
            request = _parse(body)
            if method != "POST" or request is None:
                return _error(400, "POST a JSON object with 'input' for embeddings", "invalid_request_error",
                              "invalid_body")
            return _json_reply(200, embeddings(request))
        if endpoint == "models":
            return _json_reply(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "paywall-emulator"}]})
        return _error(404, f"Unknown fake provider endpoint /{route}", "invalid_request_error", "unknown_url")

    def _chat(self, body: bytes, now: datetime, options: FakeOptions) -> FakeReply:
        request = _parse(body)
        if request is None or not isinstance(request.get("messages"), list):
            return _error(400, "The body must be a JSON object with a 'messages' array", "invalid_request_error",
                          "invalid_body")
        created = int(now.timestamp())
        if request.get("stream") is True:
            return FakeReply(status=200, headers=dict(SSE_HEADERS),
                             chunks=self._stream(request, created, options))
        return _json_reply(200, completion(request, created))

    async def _stream(self, request: Mapping[str, Any], created: int, options: FakeOptions) -> AsyncIterator[bytes]:
        self.streams_started += 1
        finished = False
        try:
            for index, event in enumerate(stream_events(request, created)):
                if index and options.chunk_delay_ms:
                    await asyncio.sleep(options.chunk_delay_ms / 1000)
                yield event
                if index == 0 and self.hold is not None:
                    await self.hold.wait()
            finished = True
        finally:
            if finished:
                self.streams_finished += 1
            else:
                self.streams_closed_early += 1


# --- replies, derived from the request only ------------------------------------------------------


def reply_text(request: Mapping[str, Any]) -> str:
    """The assistant's answer: `Echo: ` and the last user message (text parts joined)."""
    last = ""
    for message in request.get("messages") or []:
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                last = content
            elif isinstance(content, list):
                last = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return f"Echo: {last}" if last else "Echo: (no user message)"


def completion_id(request: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
    return f"chatcmpl-fake{digest[:20]}"


def _words(text: str) -> int:
    return len(text.split())


def _usage(request: Mapping[str, Any], answer: str) -> dict[str, int]:
    prompt = sum(_words(str(m.get("content", ""))) for m in request.get("messages") or [] if isinstance(m, Mapping))
    return {"prompt_tokens": prompt, "completion_tokens": _words(answer), "total_tokens": prompt + _words(answer)}


def completion(request: Mapping[str, Any], created: int) -> dict[str, Any]:
    """A non-streamed `chat.completion` object."""
    answer = reply_text(request)
    return {
        "id": completion_id(request), "object": "chat.completion", "created": created,
        "model": str(request.get("model") or MODEL),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": _usage(request, answer),
    }


def stream_events(request: Mapping[str, Any], created: int) -> list[bytes]:
    """The SSE events of a streamed completion: a role delta, one delta per word, the stop, the usage
    chunk when `stream_options.include_usage` asked for it, `[DONE]`."""
    base = {"id": completion_id(request), "object": "chat.completion.chunk", "created": created,
            "model": str(request.get("model") or MODEL)}

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()

    answer = reply_text(request)
    pieces = re.findall(r"\S+\s*", answer)
    events = [event({"role": "assistant", "content": ""}), *(event({"content": p}) for p in pieces),
              event({}, "stop")]
    options = request.get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage") is True:
        # As OpenAI does on request: one last chunk with no choices and the usage of the whole answer.
        usage = {**base, "choices": [], "usage": _usage(request, answer)}
        events.append(f"data: {json.dumps(usage, separators=(',', ':'))}\n\n".encode())
    return [*events, b"data: [DONE]\n\n"]


def echo(method: str, route: str, body: bytes) -> dict[str, Any]:
    """The `echo` endpoint's answer (any method): the method, the path and the body as received."""
    return {"object": "echo", "method": method, "path": f"/{route}", "body": body.decode("utf-8", "replace"),
            "body_bytes": len(body)}


def embeddings(request: Mapping[str, Any]) -> dict[str, Any]:
    """An `embedding` per input string: `dimensions` (default 8) numbers in [-1, 1] hashed from the text."""
    raw_input = request.get("input")
    inputs = [raw_input] if isinstance(raw_input, str) else list(raw_input or [])
    size = request.get("dimensions")
    dimensions = size if isinstance(size, int) and 0 < size <= 4096 else EMBEDDING_DIMENSIONS
    data = []
    for index, text in enumerate(inputs):
        seed = hashlib.sha256(str(text).encode()).digest()
        while len(seed) < dimensions:
            seed += hashlib.sha256(seed).digest()
        vector = [round(b / 127.5 - 1.0, 6) for b in seed[:dimensions]]
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(_words(str(t)) for t in inputs)
    return {"object": "list", "data": data, "model": str(request.get("model") or MODEL),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


async def _once(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


def _json_reply(status: int, body: Any) -> FakeReply:
    payload = json.dumps(body, separators=(",", ":")).encode()
    return FakeReply(status=status, headers={**JSON_HEADERS, "Content-Length": str(len(payload))},
                     chunks=_once(payload))


def _error(status: int, message: str, kind: str, code: str) -> FakeReply:
    payload = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
    return FakeReply(status=status, headers={**JSON_HEADERS, "Content-Length": str(len(payload))},
                     chunks=_once(payload))


# --- standalone server -------------------------------------------------------------------------


def create_app(options: FakeOptions | None = None, *, runtime: FakeProvider | None = None,
               now: Callable[[], datetime] | None = None) -> web.Application:
    """The fake provider as its own aiohttp app (any path, any method), for direct calls."""
    opts = options or FakeOptions()
    provider = runtime or FakeProvider()
    clock = now or EmulatorClock().now

    async def serve(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            reply = await provider.respond(opts, method=request.method, path=request.match_info["path"],
                                           body=body, now=clock())
        except FakeConnectionError:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=502)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        try:
            await response.prepare(request)
            async for chunk in reply.chunks:
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:  # the caller left (a load generator stopping): nothing to answer
            pass
        return response

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", serve)
    return app
