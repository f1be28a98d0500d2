"""The proxy's transport: forwarding an admitted chat completion to the paywall's provider (the shared
fake provider in-process, or an http(s) upstream) and relaying the answer, then settling the charge on
the usage the provider reported (at the end of the stream for SSE). A provider error is relayed and
charges nothing; an unreachable provider answers 502 `upstream_error`. HTTP layer.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import field
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from ...engine.errors import UpstreamError
from ...engine.fake_provider import FakeConnectionError, FakeOptions, FakeProvider
from ...engine.middleware import answer_headers
from ...engine.routing import Reply
from ...engine.structs import struct
from .domain import proxy
from .domain.access import Blocked
from .links import Links
from .models import Paywall
from .state import PaywallsState
from .views import render_blocked_completion, render_blocked_stream

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
CONNECT_TIMEOUT = 10.0


@struct(kw_only=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@struct
class ProxyStats:
    forwarded: int = 0
    charged: int = 0
    blocked: int = 0
    client_gone: int = 0


@struct
class ProxyRuntime:
    """Per-app transport state: the fake provider, the HTTP client (opened by `session_context`)."""

    fake: FakeProvider = field(default_factory=FakeProvider)
    stats: ProxyStats = field(default_factory=ProxyStats)
    session: aiohttp.ClientSession | None = None


@struct
class Answer:
    status: int
    content_type: str
    chunks: AsyncIterator[bytes]
    release: Callable[[], Awaitable[None]]


def upstream_payload(body: dict[str, Any], raw: bytes) -> bytes:
    """The request as the provider gets it: the bytes the client sent, except that a stream always asks
    for the usage chunk (it is the charge)."""
    if body.get("stream") is not True:
        return raw
    options = dict(body.get("stream_options") or {})
    options["include_usage"] = True
    return json.dumps({**body, "stream_options": options}, separators=(",", ":")).encode()


async def open_upstream(runtime: ProxyRuntime, paywall: Paywall, payload: bytes, now: datetime) -> Answer:
    if paywall.upstream == "fake":
        try:
            reply = await runtime.fake.respond(FakeOptions(), method="POST", path="chat/completions", body=payload,
                                               now=now)
        except FakeConnectionError as exc:
            raise UpstreamError(f"The provider of {paywall.id} failed: {exc}", code="upstream_error") from exc
        chunks = reply.chunks

        async def close_fake() -> None:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

        return Answer(status=reply.status, content_type=reply.headers.get("Content-Type", ""), chunks=chunks,
                      release=close_fake)
    if runtime.session is None:
        raise UpstreamError("The proxy's HTTP client is not running", code="upstream_error")
    try:
        resp = await runtime.session.post(f"{paywall.upstream.rstrip('/')}/chat/completions", data=payload,
                                          headers={"Content-Type": "application/json", **paywall.upstream_headers},
                                          allow_redirects=False)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise UpstreamError(f"The provider of {paywall.id} failed: {exc or type(exc).__name__}",
                            code="upstream_error") from exc

    async def close_http() -> None:
        resp.release()

    return Answer(status=resp.status, content_type=resp.headers.get("Content-Type", ""),
                  chunks=resp.content.iter_any(), release=close_http)


async def read_all(answer: Answer) -> tuple[int, Any, bytes]:
    """A non-streamed answer: (status, parsed JSON, its bytes); a non-JSON answer is a broken provider
    (502)."""
    try:
        raw = b"".join([chunk async for chunk in answer.chunks])
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamError(f"The provider broke off its answer: {exc}", code="upstream_error") from exc
    finally:
        await answer.release()
    try:
        return answer.status, json.loads(raw), raw
    except ValueError as exc:
        raise UpstreamError(f"The provider answered {answer.status} without JSON", code="upstream_error") from exc


def usage_of(body: Any) -> Usage | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


async def relay_stream(request: web.Request, runtime: ProxyRuntime, answer: Answer, *, keep_usage: bool,
                       on_usage: Callable[[Usage], None]) -> web.StreamResponse:
    """Relay SSE events as they arrive; the usage chunk is read (and passed on only if the client asked
    for it); `on_usage` runs once the stream ended with a usage. A client gone mid-stream stops the
    relay, not the stream: the rest is read from the provider, whose usage is charged at its end."""
    response = web.StreamResponse(status=answer.status, headers={**answer_headers(request), **SSE_HEADERS})
    usage: Usage | None = None
    buffer = b""
    client_gone = False
    try:
        if not await _send(request, response, None):
            client_gone = True
        async for chunk in answer.chunks:
            buffer += chunk
            *events, buffer = buffer.split(b"\n\n")
            out = []
            for event in events:
                found = _usage_event(event)
                if found is not None:
                    usage = found
                    if not keep_usage:
                        continue
                out.append(event + b"\n\n")
            if out and not client_gone and not await _send(request, response, b"".join(out)):
                client_gone = True
        if not client_gone and buffer.strip():
            await _send(request, response, buffer)
        if not client_gone:
            await _send(request, response, b"", eof=True)
    except (aiohttp.ClientError, OSError):
        usage = None  # the provider broke off: no usage, no charge
    finally:
        await answer.release()
    runtime.stats.client_gone += client_gone
    if usage is not None:
        on_usage(usage)
    return response


async def _send(request: web.Request, response: web.StreamResponse, data: bytes | None, *,
                eof: bool = False) -> bool:
    """Prepare (data None), write or finish the client's stream; False once the client is gone."""
    try:
        if data is None:
            await response.prepare(request)
        elif eof:
            await response.write_eof()
        else:
            await response.write(data)
    except ConnectionError:
        return False
    return True


def _usage_event(event: bytes) -> Usage | None:
    if not event.startswith(b"data: {") or b'"usage"' not in event:
        return None
    try:
        parsed = json.loads(event[6:])
    except ValueError:
        return None
    return usage_of(parsed) if isinstance(parsed, dict) and not parsed.get("choices") else None


async def send_events(request: web.Request, events: list[bytes]) -> web.StreamResponse:
    """A paywall-required reply as a stream (the client asked for SSE)."""
    response = web.StreamResponse(status=200, headers={**answer_headers(request), **SSE_HEADERS})
    await response.prepare(request)
    await response.write(b"".join(events))
    await response.write_eof()
    return response


PROXY_KEY = web.AppKey("paywalls_ai_proxy", ProxyRuntime)


async def session_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the HTTP client for real upstreams, open while the app runs."""
    runtime = app[PROXY_KEY]
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout) as session:
        runtime.session = session
        try:
            yield
        finally:
            runtime.session = None


# --- one proxied chat completion ------------------------------------------------------------------------


async def complete(request: web.Request, runtime: ProxyRuntime, state: PaywallsState, paywall: Paywall,
                   body: dict[str, Any], *, user_id: str, now: Callable[[], datetime],
                   links: Links) -> Reply | web.StreamResponse:
    """Admit, then forward and charge; or answer the paywall-required assistant message (JSON or SSE)."""
    outcome = proxy.admit(state, paywall, user_id, str(body["model"]), now=now(), links=links)
    streamed = body.get("stream") is True
    if isinstance(outcome, Blocked):
        runtime.stats.blocked += 1
        shape = {"request_id": outcome.request_id or "", "model": str(body["model"]), "message": outcome.message,
                 "created": int(now().timestamp())}
        if streamed:
            return await send_events(request, render_blocked_stream(**shape))  # type: ignore[arg-type]
        return Reply(status=200, body=render_blocked_completion(**shape))  # type: ignore[arg-type]
    admission = outcome

    def settle(usage: Usage) -> None:
        if proxy.settle(state, admission, prompt_tokens=usage.prompt_tokens,
                        completion_tokens=usage.completion_tokens, now=now()) is not None:
            runtime.stats.charged += 1

    answer = await open_upstream(runtime, paywall, upstream_payload(body, await request.read()), now())
    runtime.stats.forwarded += 1
    if streamed and 200 <= answer.status < 300 and answer.content_type.startswith("text/event-stream"):
        options = body.get("stream_options")
        keep = isinstance(options, dict) and options.get("include_usage") is True
        return await relay_stream(request, runtime, answer, keep_usage=keep, on_usage=settle)
    status, reply, raw = await read_all(answer)
    usage = usage_of(reply) if 200 <= status < 300 else None
    if usage is not None:
        settle(usage)
    # The provider's answer, relayed as it came when it is plain UTF-8 (what JSON on the wire must be);
    # another encoding, or a byte-order mark, is answered as the emulator's own UTF-8 encoding of it.
    plain = not raw.startswith(codecs.BOM_UTF8) and json.detect_encoding(raw) == "utf-8"
    return Reply(status=status, body=reply, encoded=raw if plain else None)

