"""The engine's webhook `Sender` with a product of its own (a tiny `Outbox` over a list): what the engine
owns whatever the product: attempts cut at a clock move's deadline and the endpoint then skipped for the
rest of the move, a new state dropping the old state's attempts, nothing sent when the product says so,
and failures classified and worded. Loopback receivers only; asserts outcomes, never durations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from paywall_emulator.engine.clock import monotonic
from paywall_emulator.engine.delivery import AttemptOutcome, Post, Sender, describe, send
from paywall_emulator.engine.product import Transition

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Item:
    key: str
    due: datetime
    url: str  # "" : nothing to send any more
    endpoint: str = "e1"
    outcomes: list[AttemptOutcome | None] = field(default_factory=list)


@dataclass
class Shelf:
    """A product state: items, each attempted once."""

    items: list[Item]

    def open(self, busy: Collection[str]) -> list[Item]:
        return [i for i in self.items if not i.outcomes and i.key not in busy]


class ShelfOutbox:
    def next_due(self, state: Shelf, busy: Collection[str]) -> datetime | None:
        return min((i.due for i in state.open(busy)), default=None)

    def take_due(self, state: Shelf, at: datetime, busy: Collection[str]) -> list[Item]:
        return [i for i in state.open(busy) if i.due <= at]

    def key(self, item: Item) -> str:
        return item.key

    def prepare(self, state: Shelf, item: Item, at: datetime) -> Post | None:
        if not item.url:
            return None
        return Post(url=item.url, body=b'{"key":"%s"}' % item.key.encode(), headers={"X-Key": item.key}, at=at,
                    timeout=5, endpoint=item.endpoint)

    def record(self, state: Shelf, item: Item, at: datetime, outcome: AttemptOutcome | None) -> Transition:
        item.outcomes.append(outcome)
        return Transition(kind="shelf.attempt", at=at)


class Receiver:
    """Answers 200, or holds every request until released."""

    def __init__(self, *, hold: bool) -> None:
        self.hold = hold
        self.seen: list[str] = []
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request.headers["X-Key"])
        self.arrived.set()
        if self.hold:
            await self.release.wait()
        return web.Response(status=200, text="ok")


async def serve(aiohttp_server: Any, *, hold: bool) -> tuple[Receiver, str]:
    receiver = Receiver(hold=hold)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server: TestServer = await aiohttp_server(app)
    return receiver, str(server.make_url("/hook"))


@pytest.mark.asyncio
async def test_a_move_cuts_an_unanswered_attempt_and_skips_its_endpoint_for_the_rest_of_the_move(
        aiohttp_server: Any) -> None:
    receiver, url = await serve(aiohttp_server, hold=True)
    _, other = await serve(aiohttp_server, hold=False)
    shelf = Shelf([Item("a", T0, url), Item("b", T0 + timedelta(minutes=1), url),
                   Item("c", T0 + timedelta(minutes=1), other, endpoint="e2")])
    deadline = monotonic() + 0.2
    try:
        async with aiohttp.ClientSession() as session:  # past the deadline, an endpoint not yet silent has 1 s
            sender = Sender(ShelfOutbox(), session, state=lambda: shelf, now=lambda: T0,
                            move_deadline=lambda: deadline, late_grace=1.0)
            assert sender.next_due() == T0
            assert [t.at for t in await sender.run_due(shelf, T0)] == [T0]  # a is cut after the 1 s
            assert sender.next_due() == T0 + timedelta(minutes=1)
            # The deadline is behind us now: c's endpoint, not yet silent, still gets the grace. A long one,
            # so c's answer never depends on how fast this machine is; b's endpoint gets none.
            sender.late_grace = 60.0
            await sender.run_due(shelf, T0 + timedelta(minutes=1))
    finally:
        receiver.release.set()
    a, b, c = (item.outcomes[0] for item in shelf.items)
    assert a is not None and a.failure == "cut" and a.status is None
    assert describe(a) == "timeout: no answer by the clock move's deadline (5 s after it started)"
    assert b is not None and b.failure == "silent" and receiver.seen == ["a"]  # b never went out
    assert describe(b) == ("timeout: no answer within 5 s (the endpoint left an earlier attempt of this clock "
                           "move unanswered)")
    assert c is not None and c.failure is None and c.status == 200 and c.body == b"ok"  # another endpoint
    assert sender.next_due() is None


@pytest.mark.asyncio
async def test_a_new_state_drops_the_attempts_of_the_old_one(aiohttp_server: Any) -> None:
    held, slow = await serve(aiohttp_server, hold=True)
    _, fast = await serve(aiohttp_server, hold=False)
    old, new = Shelf([Item("k", T0, slow)]), Shelf([Item("k", T0, fast)])
    current = old
    recorded = asyncio.Event()

    class Signalling(ShelfOutbox):
        def record(self, state: Shelf, item: Item, at: datetime, outcome: AttemptOutcome | None) -> Transition:
            recorded.set()
            return super().record(state, item, at, outcome)
    try:
        async with aiohttp.ClientSession() as session:
            sender = Sender(Signalling(), session, state=lambda: current, now=lambda: T0)
            sender.start()
            try:
                await asyncio.wait_for(held.arrived.wait(), 10)
                assert sender.next_due(old) == T0  # in flight: a move would wait for it
                current = new  # a reset: same key, another world
                await asyncio.wait_for(recorded.wait(), 10)
            finally:
                await sender.close()
    finally:
        held.release.set()
    assert old.items[0].outcomes == []  # cancelled, never recorded into the old world
    (outcome,) = new.items[0].outcomes
    assert outcome is not None and outcome.status == 200


@pytest.mark.asyncio
async def test_an_attempt_cut_before_it_could_start_is_still_recorded(aiohttp_server: Any) -> None:
    receiver, url = await serve(aiohttp_server, hold=True)
    shelf = Shelf([Item("late", T0, url)])
    try:
        async with aiohttp.ClientSession() as session:  # the move's deadline passed already, no grace
            sender = Sender(ShelfOutbox(), session, state=lambda: shelf, now=lambda: T0,
                            move_deadline=lambda: monotonic() - 1, late_grace=0.0)
            await sender.run_due(shelf, T0)
    finally:
        receiver.release.set()
    (outcome,) = shelf.items[0].outcomes
    assert outcome is not None and outcome.failure == "cut" and outcome.timed_out


@pytest.mark.asyncio
async def test_nothing_is_sent_when_the_product_has_nothing_to_send(aiohttp_server: Any) -> None:
    receiver, _ = await serve(aiohttp_server, hold=False)
    shelf = Shelf([Item("gone", T0, "")])
    async with aiohttp.ClientSession() as session:
        sender = Sender(ShelfOutbox(), session, state=lambda: shelf, now=lambda: T0)
        assert [t.kind for t in await sender.run_due(shelf, T0)] == ["shelf.attempt"]
    assert shelf.items[0].outcomes == [None] and receiver.seen == []


@pytest.mark.asyncio
async def test_send_classifies_failures() -> None:
    post = Post(url="http://127.0.0.1:9/hook", body=b"{}", headers={}, at=T0, timeout=5, endpoint="e")
    async with aiohttp.ClientSession() as session:
        refused = await send(session, post)
    assert refused.failure == "connection" and refused.status is None and not refused.timed_out
    assert (describe(refused) or "").startswith("connection error: ClientConnectorError: ")
    assert describe(AttemptOutcome(failure="timeout", limit=2.5)) == "timeout: no answer within 2.5 s"
    long = "RuntimeError: " + "x" * 600
    assert describe(AttemptOutcome(failure="error", detail=long, limit=1)) == f"error: {long}"[:500]
    assert describe(AttemptOutcome(status=500, limit=1)) is None
