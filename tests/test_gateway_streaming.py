"""Streaming through the gateway: SSE chunks reach the client before the provider finishes (driven by
events, not clocks), and the charge is made exactly once when the client or the upstream goes away
mid-stream (the rule: the charge stands once the upstream answered 2xx)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from paywall_emulator.engine.fake_provider import FakeProvider, create_app
from paywall_emulator.products.monetize.upstream import UPSTREAMS_KEY, Upstreams
from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import (
    BOB,
    CHAT,
    REMOTE,
    STANDARD,
    ServedApp,
    adjust,
    balances,
    gateway,
    seeded,
    token_seed,
    wait_until,
)

STREAM = {**CHAT, "stream": True}


@pytest.fixture
def tokens(emu: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    with seeded(emu, token_seed()):
        adjust(emu.base_url, "standard", 5, "credit")
        yield emu


def upstreams(emu: ThreadedEmulator) -> Upstreams:
    assert emu.app is not None
    return emu.app[UPSTREAMS_KEY]


def content_of(stream: bytes) -> str:
    """The assistant text of an OpenAI-style SSE stream; asserts it ends with `[DONE]`."""
    events = [e.removeprefix("data: ") for e in stream.decode().split("\n\n") if e]
    assert events[-1] == "[DONE]"
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1]]
    return "".join(d.get("content", "") for d in deltas)


@pytest.fixture
def held(tokens: ThreadedEmulator) -> Iterator[Any]:
    """Every fake stream pauses after its first event until the test sets the returned event."""
    fake = upstreams(tokens).fake
    hold = tokens.call(fake.hold_streams)
    try:
        yield hold
    finally:
        tokens.call(hold.set)
        tokens.call(lambda: setattr(fake, "hold", None))


def test_sse_chunks_arrive_before_the_fake_provider_finishes(tokens: ThreadedEmulator, held: Any) -> None:
    fake = upstreams(tokens).fake
    started, finished = tokens.call(lambda: (fake.streams_started, fake.streams_finished))
    with requests.post(gateway(tokens.base_url, STANDARD, "v1/chat/completions"), json=STREAM, stream=True,
                       headers={"X-User-ID": BOB, "X-Paywall-Id": "15"}, timeout=30) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["X-Query-Type"] == "standard"
        chunks = resp.iter_content(chunk_size=None)
        first = next(chunks)
        assert first.startswith(b"data: ") and b'"role":"assistant"' in first
        # The provider is parked on the event: it cannot have finished, yet the first chunk is here.
        assert tokens.call(lambda: (fake.streams_started - started, fake.streams_finished - finished)) == (1, 0)
        tokens.call(held.set)
        rest = b"".join(chunks)
    assert content_of(first + rest) == "Echo: tell me a story"
    assert tokens.call(lambda: fake.streams_finished - finished) == 1
    assert balances(tokens.base_url)["standard"] == 4


def test_sse_from_a_real_upstream_url_is_relayed_incrementally(emu: ThreadedEmulator) -> None:
    provider = FakeProvider()
    with ServedApp(create_app(runtime=provider)) as upstream, seeded(emu, token_seed(remote_url=upstream.url)):
        adjust(emu.base_url, "standard", 1, "credit")
        hold = upstream.call(provider.hold_streams)
        try:
            with requests.post(gateway(emu.base_url, REMOTE, "v1/chat/completions"),
                               json=STREAM, stream=True, headers={"X-User-ID": BOB}, timeout=30) as resp:
                assert resp.status_code == 200
                chunks = resp.iter_content(chunk_size=None)
                first = next(chunks)
                assert b'"role":"assistant"' in first
                assert upstream.call(lambda: (provider.streams_started, provider.streams_finished)) == (1, 0)
                upstream.call(hold.set)
                rest = b"".join(chunks)
        finally:
            upstream.call(hold.set)
        assert content_of(first + rest) == "Echo: tell me a story"
        assert upstream.call(lambda: provider.streams_finished) == 1
        assert balances(emu.base_url)["standard"] == 0


def test_a_client_gone_mid_stream_is_charged_exactly_once(tokens: ThreadedEmulator, held: Any) -> None:
    stats = upstreams(tokens).stats
    finished, refunded = tokens.call(lambda: (stats.finished, stats.refunded))
    conn = http.client.HTTPConnection("127.0.0.1", int(tokens.base_url.rsplit(":", 1)[1]), timeout=30)
    conn.request("POST", f"/api/v1/api-gateway/{STANDARD}/v1/chat/completions?paywall_id=15",
                 body=json.dumps(STREAM), headers={"Content-Type": "application/json", "X-User-ID": BOB})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("X-Query-Type") == "standard"
    assert resp.read1().startswith(b"data: ")
    assert conn.sock is not None
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    tokens.call(held.set)  # the provider goes on; the gateway finds nobody to write to
    wait_until(lambda: tokens.call(lambda: stats.finished) > finished, what="the relay to end")
    assert tokens.call(lambda: stats.refunded) == refunded
    assert balances(tokens.base_url)["standard"] == 4  # 5 - 1: charged once, never refunded


def test_an_upstream_broken_mid_stream_keeps_the_charge_and_cuts_the_client_off(emu: ThreadedEmulator) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: one\n\n")
        assert request.transport is not None
        request.transport.close()
        return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", broken)
    with ServedApp(app) as upstream, seeded(emu, token_seed(remote_url=upstream.url)):
        adjust(emu.base_url, "standard", 2, "credit")
        stats = upstreams(emu).stats
        broken_before = emu.call(lambda: stats.upstream_broken)
        with requests.post(gateway(emu.base_url, REMOTE, "v1/chat/completions"), json=STREAM, stream=True,
                           headers={"X-User-ID": BOB}, timeout=30) as resp:
            assert resp.status_code == 200
            received = b""
            with pytest.raises(requests.exceptions.RequestException):
                for chunk in resp.iter_content(chunk_size=None):
                    received += chunk
        assert received == b"data: one\n\n"
        wait_until(lambda: emu.call(lambda: stats.upstream_broken) > broken_before, what="the relay to end")
        assert balances(emu.base_url)["standard"] == 1
