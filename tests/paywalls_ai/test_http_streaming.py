"""Streams through the Paywalls.ai proxy, driven by events (the fake provider parked after its first
chunk): chunks reach the client before the provider finishes, the charge is written only when the
stream ends, and a client gone mid-stream is still charged once, at the stream's end."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from paywall_emulator.products.paywalls_ai.transport import PROXY_KEY, ProxyRuntime

from ..gateway_support import wait_until
from .http_support import DEMO_KEY, MODEL, UNIT, Pw, echo_cost

STREAM = {"model": MODEL, "messages": [{"role": "user", "content": "tell me more"}], "user": "alice", "stream": True}
HEADERS = {"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json"}


def runtime(emu: Any) -> ProxyRuntime:
    found: ProxyRuntime = emu.app[PROXY_KEY]
    return found


@pytest.fixture
def held(emu: Any) -> Iterator[Any]:
    fake = runtime(emu).fake
    hold = emu.call(fake.hold_streams)
    try:
        yield hold
    finally:
        emu.call(hold.set)
        emu.call(lambda: setattr(fake, "hold", None))


def test_chunks_arrive_before_the_provider_finishes_and_the_charge_waits_for_the_end(emu: Any, held: Any) -> None:
    pw = Pw(emu.base_url)
    fake = runtime(emu).fake
    finished = emu.call(lambda: fake.streams_finished)
    with requests.post(f"{emu.base_url}/v1/chat/completions", json=STREAM, headers=HEADERS, stream=True,
                       timeout=30) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        chunks = resp.iter_content(chunk_size=None)
        first = next(chunks)
        assert b'"role":"assistant"' in first
        assert emu.call(lambda: fake.streams_finished) == finished  # parked: not finished, nothing charged
        assert pw.balance("alice") == UNIT
        emu.call(held.set)
        rest = b"".join(chunks)
    events = [e.removeprefix(b"data: ") for e in (first + rest).split(b"\n\n") if e]
    assert events[-1] == b"[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "Echo: tell me more" and b'"usage"' not in first + rest
    assert pw.balance("alice") == UNIT - echo_cost("tell me more")


def test_a_client_gone_mid_stream_is_charged_once_at_the_stream_end(emu: Any, held: Any) -> None:
    stats = runtime(emu).stats
    gone = emu.call(lambda: stats.client_gone)
    conn = http.client.HTTPConnection("127.0.0.1", int(emu.base_url.rsplit(":", 1)[1]), timeout=30)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(STREAM), headers=HEADERS)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read1().startswith(b"data: ")
    assert conn.sock is not None
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    emu.call(held.set)  # the provider goes on; the proxy finds nobody to write to but reads to the end
    wait_until(lambda: emu.call(lambda: stats.client_gone) > gone, what="the relay to notice the client left")
    assert Pw(emu.base_url).balance("alice") == UNIT - echo_cost("tell me more")
