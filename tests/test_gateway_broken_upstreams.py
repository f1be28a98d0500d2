"""Upstreams that go wrong after their status line, through the gateway, read by a streaming client:
a 2xx whose body breaks off (after N chunks, after none, after its last) keeps its one charge and cuts
the client off; a 2xx that stalls keeps its charge until the client leaves, then the upstream is
closed; a 5xx that breaks or stalls after its headers is refunded. Later calls are charged normally,
and the world file checks the switches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import requests

from paywall_emulator.engine.fake_provider import FakeBrokenStreamError, FakeOptions, FakeProvider
from paywall_emulator.testing import ThreadedEmulator

from .conftest import error_of
from .gateway_support import (
    BOB,
    BREAK_0,
    BREAK_2,
    BREAK_LATE,
    CHAT,
    FAIL_BREAK,
    FAIL_STALL,
    STALL_1,
    STANDARD,
    adjust,
    balances,
    gateway,
    token_seed,
    upstreams,
    wait_until,
)
from .gateway_support import tokens as tokens  # the fixture

STREAM = {**CHAT, "stream": True}
HEADERS = {"X-User-ID": BOB, "X-Paywall-Id": "15", "Content-Type": "application/json"}
ALL_EVENTS = 8  # the fake's stream for CHAT: role, "Echo: ", "tell ", "me ", "a ", "story", stop, [DONE]


def call(emu: ThreadedEmulator, provider: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(gateway(emu.base_url, provider, "v1/chat/completions"), data=json.dumps(body),
                         headers=HEADERS, stream=True, timeout=30)


def read_until_cut(resp: requests.Response) -> list[bytes]:
    """The chunks a streaming client gets before the body breaks off (which must happen)."""
    got: list[bytes] = []
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in resp.iter_content(chunk_size=None):
            got.append(chunk)
    return got


def events_in(chunks: list[bytes]) -> list[str]:
    return [e for e in b"".join(chunks).decode().split("\n\n") if e]


@pytest.mark.parametrize(("provider", "events"), [(BREAK_2, 2), (BREAK_LATE, ALL_EVENTS)])
def test_a_2xx_stream_that_breaks_off_keeps_its_one_charge(tokens: ThreadedEmulator, provider: str,
                                                           events: int) -> None:
    stats, fake = upstreams(tokens).stats, upstreams(tokens).fake
    broken, refunded, cut = tokens.call(lambda: (stats.upstream_broken, stats.refunded, fake.bodies_broken))
    with call(tokens, provider, STREAM) as resp:
        assert resp.status_code == 200 and resp.headers["X-Query-Type"] == "standard"
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        got = events_in(read_until_cut(resp))
    assert len(got) == events and got[0].startswith("data: ")
    wait_until(lambda: tokens.call(lambda: stats.upstream_broken) == broken + 1, what="the relay to end")
    assert tokens.call(lambda: (stats.refunded, fake.bodies_broken)) == (refunded, cut + 1)
    assert balances(tokens.base_url)["standard"] == 4  # charged once, not refunded


def test_a_json_answer_cut_right_after_its_headers_keeps_its_charge(tokens: ThreadedEmulator) -> None:
    with call(tokens, BREAK_0, CHAT) as resp:
        assert resp.status_code == 200 and resp.headers["X-Query-Type"] == "standard"
        assert int(resp.headers["Content-Length"]) > 0
        assert read_until_cut(resp) == []
    assert balances(tokens.base_url)["standard"] == 4


def test_a_stalled_2xx_keeps_its_charge_until_the_client_leaves(tokens: ThreadedEmulator) -> None:
    stats, fake = upstreams(tokens).stats, upstreams(tokens).fake
    gone, closed_early, stalls = tokens.call(lambda: (stats.client_gone, fake.streams_closed_early,
                                                      fake.bodies_stalled))
    resp = call(tokens, STALL_1, STREAM)
    assert resp.status_code == 200 and resp.headers["X-Query-Type"] == "standard"
    first = next(resp.iter_content(chunk_size=None))
    assert b'"role":"assistant"' in first
    wait_until(lambda: tokens.call(lambda: fake.bodies_stalled) == stalls + 1, what="the stall")
    assert balances(tokens.base_url)["standard"] == 4  # charged while it hangs
    resp.close()  # the client gives up
    wait_until(lambda: tokens.call(lambda: stats.client_gone) == gone + 1, what="the gateway to see the client leave")
    wait_until(lambda: tokens.call(lambda: fake.streams_closed_early) == closed_early + 1,
               what="the upstream stream to be closed")
    assert balances(tokens.base_url)["standard"] == 4


@pytest.mark.parametrize("provider", [FAIL_BREAK, FAIL_STALL])
def test_a_5xx_that_breaks_or_stalls_after_its_headers_is_refunded(tokens: ThreadedEmulator, provider: str) -> None:
    stats = upstreams(tokens).stats
    refunded = tokens.call(lambda: stats.refunded)
    resp = call(tokens, provider, STREAM)
    assert resp.status_code in (500, 503) and "X-Query-Type" not in resp.headers
    assert balances(tokens.base_url)["standard"] == 5  # refunded as soon as the status line came
    if provider == FAIL_BREAK:
        assert read_until_cut(resp) == []
    resp.close()
    assert tokens.call(lambda: stats.refunded) == refunded + 1
    assert balances(tokens.base_url)["standard"] == 5


def test_after_broken_calls_the_next_ones_are_charged_normally(tokens: ThreadedEmulator) -> None:
    with call(tokens, BREAK_2, STREAM) as resp:
        read_until_cut(resp)
    with call(tokens, FAIL_BREAK, STREAM) as resp:
        assert resp.status_code == 503
    with call(tokens, STANDARD, STREAM) as resp:
        body = b"".join(resp.iter_content(chunk_size=None))
    assert body.endswith(b"data: [DONE]\n\n")
    assert balances(tokens.base_url)["standard"] == 3  # 5 - the broken 2xx - the complete one
    adjust(tokens.base_url, "standard", 3, "debit")
    refused = call(tokens, BREAK_2, STREAM)
    assert refused.status_code == 402 and refused.json()["error"] == "not-enough-queries"


@pytest.mark.parametrize("fake", [{"break_after_chunks": -1}, {"stall_after_chunks": "1"},
                                  {"break_after_chunks": True}, {"stall_after": 1}])
def test_the_world_file_checks_the_switches(emu: ThreadedEmulator, fake: dict[str, Any]) -> None:
    doc = token_seed()
    next(p for p in doc["paywalls"] if str(p["id"]) == "15")["providers"].append(
        {"id": "x0000000-0000-4000-8000-000000000000", "type": "standard", "fake": fake})
    resp = requests.post(f"{emu.base_url}/_emulator/world", json={"monetize": doc}, timeout=30)
    assert error_of(resp)[0] == 400


def _body(options: FakeOptions, request: dict[str, Any]) -> tuple[list[bytes], BaseException | None]:
    async def run() -> tuple[list[bytes], BaseException | None]:
        from datetime import UTC, datetime

        reply = await FakeProvider().respond(options, method="POST", path="v1/chat/completions",
                                             body=json.dumps(request).encode(), now=datetime(2026, 1, 1, tzinfo=UTC))
        got: list[bytes] = []
        try:
            async for chunk in reply.chunks:
                got.append(chunk)
        except FakeBrokenStreamError as exc:
            return got, exc
        return got, None

    return asyncio.run(run())


def test_the_switches_count_body_chunks_and_the_smaller_wins() -> None:
    got, error = _body(FakeOptions(break_after_chunks=3), STREAM)
    assert len(got) == 3 and isinstance(error, FakeBrokenStreamError)
    got, error = _body(FakeOptions(break_after_chunks=3, stall_after_chunks=5), CHAT)
    assert len(got) == 1 and isinstance(error, FakeBrokenStreamError)  # a JSON body is one chunk

    async def stalled() -> list[bytes]:
        from datetime import UTC, datetime

        reply = await FakeProvider().respond(FakeOptions(stall_after_chunks=2, break_after_chunks=4),
                                             method="POST", path="", body=json.dumps(STREAM).encode(),
                                             now=datetime(2026, 1, 1, tzinfo=UTC))
        got = [await anext(reply.chunks), await anext(reply.chunks)]
        with pytest.raises(TimeoutError):  # the third never comes: stalled, not broken
            await asyncio.wait_for(anext(reply.chunks), timeout=0.2)
        return got

    assert len(asyncio.run(stalled())) == 2
