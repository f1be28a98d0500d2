"""The gateway's transport: forwarding a reserved call to its provider's upstream and streaming the
answer back unmodified.

Two upstream kinds: `fake` (the in-process `FakeProvider`) and an http(s) base URL (aiohttp client,
no decompression, no redirects followed, no total timeout: LLM time-to-first-byte is unbounded).
Owns the charge's settlement: refund when the upstream did not answer 2xx or could not be reached
(502 `upstream_error`); once it answered 2xx the charge stands, whatever the client does next. Hop-by-
hop headers are dropped both ways; the gateway's own request headers (identity, paywall id, SDK
headers) never reach the upstream; the provider's default headers win over the caller's. HTTP layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import field
from datetime import datetime
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from ...engine.fake_provider import FakeConnectionError, FakeOptions, FakeProvider
from ...engine.middleware import answer_headers
from ...engine.structs import struct
from ...engine.world import World
from .domain import gateway
from .domain.gateway import Charge
from .errors import UpstreamError
from .models import Provider
from .state import store_of

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade",
})
# Consumed by the gateway itself: never forwarded. (A Bearer reaching a handler is always the
# gateway's own identity token; the pipeline refuses any other Authorization.)
GATEWAY_HEADERS = frozenset({
    "host", "content-length", "authorization", "x-user-id", "x-paywall-id", "x-sdk-version",
    "x-sdk-capabilities", "x-api-key",
})
GATEWAY_QUERY = frozenset({"paywall_id", "test_mode"})
GATEWAY_PREFIX = "/api/v1/api-gateway/"
CONNECT_TIMEOUT = 10.0
CLIENT_CHECK_SECONDS = 0.25  # how often a relay waiting on a silent upstream looks at its client


class UpstreamUnavailableError(Exception):
    """The upstream could not be reached or broke before answering."""


@struct
class UpstreamAnswer:
    status: int
    reason: str | None
    headers: list[tuple[str, str]]
    chunks: AsyncIterator[bytes]
    release: Callable[[bool], Awaitable[None]]  # called once; True when the stream was cut short


@struct
class GatewayStats:
    """Counters of gateway calls that reached an upstream (introspection for tests and the bench)."""

    forwarded: int = 0
    finished: int = 0  # relays over, whichever way they ended
    client_gone: int = 0  # the client disconnected mid-stream (the charge stands)
    upstream_broken: int = 0  # the upstream broke after answering (the charge stands)
    refunded: int = 0


@struct
class Upstreams:
    """Per-app gateway transport: the HTTP client session (opened by `session_context`) and the fake."""

    fake: FakeProvider = field(default_factory=FakeProvider)
    stats: GatewayStats = field(default_factory=GatewayStats)
    session: aiohttp.ClientSession | None = None

    async def open(self, provider: Provider, *, method: str, path: str, query: list[tuple[str, str]],
                   headers: Mapping[str, str], body: bytes, now: datetime) -> UpstreamAnswer:
        """Send the call and wait for the upstream's status line and headers."""
        if provider.upstream == "fake":
            try:
                reply = await self.fake.respond(FakeOptions.from_mapping(provider.fake), method=method, path=path,
                                                body=body, now=now)
            except FakeConnectionError as exc:
                raise UpstreamUnavailableError(str(exc)) from exc
            chunks = reply.chunks

            async def close_fake(cut_short: bool) -> None:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()

            return UpstreamAnswer(status=reply.status, reason=reply.reason, headers=list(reply.headers.items()),
                                  chunks=chunks, release=close_fake)
        if self.session is None:
            raise UpstreamUnavailableError("the gateway's HTTP client is not running")
        try:
            resp = await self.session.request(
                method, URL(upstream_url(provider.upstream, path, query), encoded=True),
                headers=forward_headers(headers, provider.headers), data=body or None, allow_redirects=False)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise UpstreamUnavailableError(str(exc) or type(exc).__name__) from exc

        async def close_http(cut_short: bool) -> None:
            if cut_short:
                resp.close()
            else:
                resp.release()

        return UpstreamAnswer(status=resp.status, reason=resp.reason, headers=list(resp.headers.items()),
                              chunks=resp.content.iter_any(), release=close_http)


UPSTREAMS_KEY = web.AppKey("monetize_upstreams", Upstreams)


async def session_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the gateway's HTTP client session, closed on shutdown."""
    upstreams = app[UPSTREAMS_KEY]
    async with aiohttp.ClientSession(
        auto_decompress=False,  # bytes pass through exactly as the upstream sent them
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("Accept", "Accept-Encoding"),  # forward only what the caller sent
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
    ) as session:
        upstreams.session = session
        try:
            yield
        finally:
            upstreams.session = None


def upstream_url(base: str, path: str, query: list[tuple[str, str]]) -> str:
    url = base.rstrip("/") + (f"/{path}" if path else "")
    return f"{url}?{urlencode(query)}" if query else url


def forward_headers(incoming: Mapping[str, str], defaults: Mapping[str, str]) -> CIMultiDict[str]:
    """The caller's headers minus hop-by-hop and gateway ones, with the provider's defaults merged
    over them (so a caller can never replace the provider's upstream key)."""
    named_by_connection = {t.strip().lower() for t in incoming.get("Connection", "").split(",") if t.strip()}
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        lower = name.lower()
        if lower not in HOP_BY_HOP and lower not in GATEWAY_HEADERS and lower not in named_by_connection:
            headers.add(name, value)
    for name, value in defaults.items():
        headers[name] = value
    return headers


def split_path(request: web.Request) -> str:
    """The raw (still percent-encoded) path after the provider id, without leading slashes."""
    rest = request.rel_url.raw_path[len(GATEWAY_PREFIX):]
    return rest.partition("/")[2].lstrip("/")


async def forward(request: web.Request, world: World, upstreams: Upstreams, charge: Charge) -> web.StreamResponse:
    """Forward a reserved call and stream the answer back; settle the charge (see module doc)."""
    query = [(k, v) for k, v in request.rel_url.query.items() if k not in GATEWAY_QUERY]
    try:
        body = await request.read()
        answer = await upstreams.open(charge.provider, method=request.method, path=split_path(request), query=query,
                                      headers=request.headers, body=body, now=world.now())
    except UpstreamUnavailableError as exc:
        _refund(world, upstreams, charge)
        raise UpstreamError(f"The upstream of provider {charge.provider.id} failed: {exc}",
                            error="upstream_error") from exc
    except BaseException:  # cancelled (client gone with handler cancellation) before the upstream answered
        _refund(world, upstreams, charge)
        raise
    upstreams.stats.forwarded += 1
    ok = 200 <= answer.status < 300
    if not ok:
        _refund(world, upstreams, charge)
    return await _relay(request, upstreams.stats, answer, charge.query_type if ok else None)


class ClientGoneError(Exception):
    """The client disconnected while the gateway waited for the upstream's next chunk."""


async def _next_chunk(request: web.Request, chunks: AsyncIterator[bytes]) -> bytes:
    """The upstream's next chunk. The gateway sets no deadline on a silent upstream (as the SDK sets
    none), but it notices a client that left meanwhile (aiohttp does not cancel the handler), so a
    stalled upstream is closed instead of being waited on for ever."""
    pending = asyncio.ensure_future(anext(chunks))
    while True:
        done, _ = await asyncio.wait({pending}, timeout=CLIENT_CHECK_SECONDS)
        if done:
            return pending.result()
        if request.transport is None or request.transport.is_closing():
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
            raise ClientGoneError


def _refund(world: World, upstreams: Upstreams, charge: Charge) -> None:
    if charge.amount and not charge.refunded:
        upstreams.stats.refunded += 1
    gateway.refund(store_of(world), world.now(), charge)


async def _relay(request: web.Request, stats: GatewayStats, answer: UpstreamAnswer,
                 query_type: str | None) -> web.StreamResponse:
    # The upstream's own CORS headers are dropped: browsers get the emulator's.
    response = web.StreamResponse(status=answer.status, reason=answer.reason, headers=answer_headers(request))
    for name, value in answer.headers:
        lower = name.lower()
        if lower not in HOP_BY_HOP and not lower.startswith("access-control-"):
            response.headers.add(name, value)
    if query_type is not None:
        response.headers["X-Query-Type"] = query_type
    client_gone = upstream_broken = False
    chunks = answer.chunks.__aiter__()
    try:
        await response.prepare(request)
        while True:
            try:
                chunk = await _next_chunk(request, chunks)
            except StopAsyncIteration:
                break
            except ClientGoneError:
                client_gone = True  # while the upstream stalled: nothing more to relay to anyone
                break
            except (TimeoutError, aiohttp.ClientError, OSError):
                upstream_broken = True  # cannot change the status any more: cut the client off
                if request.transport is not None:
                    request.transport.close()
                break
            await response.write(chunk)  # no buffering: each upstream chunk goes out as it arrives
        if not upstream_broken:
            await response.write_eof()
    except ConnectionError:
        client_gone = True
    finally:
        await answer.release(client_gone or upstream_broken)
        stats.finished += 1
        stats.client_gone += client_gone
        stats.upstream_broken += upstream_broken
    return response
