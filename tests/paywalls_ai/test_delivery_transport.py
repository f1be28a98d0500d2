"""The webhook sender over real HTTP (a local receiver): signed bytes, the documented headers, the retry
schedule driven by explicit instants (as clock moves drive it), stop statuses and custom headers."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from paywall_emulator.engine.delivery import Sender
from paywall_emulator.products.paywalls_ai import signing
from paywall_emulator.products.paywalls_ai.delivery import PaywallsOutbox
from paywall_emulator.products.paywalls_ai.domain import balances, webhooks
from paywall_emulator.products.paywalls_ai.domain.webhooks import NewSubscription
from paywall_emulator.products.paywalls_ai.state import PaywallsState

from .support import T0, Secrets, state


class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.seen: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


async def setup(aiohttp_server: Any, statuses: list[int]) -> tuple[Receiver, PaywallsState, str]:
    receiver = Receiver(statuses)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server: TestServer = await aiohttp_server(app)
    st = state()
    sub = webhooks.create_subscription(
        st, st.paywalls["pw_app"],
        NewSubscription(url=str(server.make_url("/hook")), events=["paywall.balance.deposit.*"],
                        custom_headers={"X-Source": "emulator"}), now=T0, secrets=Secrets())
    balances.deposit(st, st.paywalls["pw_app"], "bob", "2", metadata=None, idempotency_key=None, now=T0)
    return receiver, st, sub.secret


async def drive(st: PaywallsState, until: datetime) -> list[datetime]:
    """Run every attempt due up to `until`, each at its own due instant; the instants used."""
    instants = []
    async with aiohttp.ClientSession() as session:
        dispatcher = Sender(PaywallsOutbox(), session, state=lambda: st, now=lambda: until, name="test-sender")
        while (due := dispatcher.next_due()) is not None and due <= until:
            instants.append(due)
            await dispatcher.run_due(st, due)
    return instants


@pytest.mark.asyncio
async def test_signed_delivery_with_documented_headers(aiohttp_server: Any) -> None:
    receiver, st, secret = await setup(aiohttp_server, [200])
    assert await drive(st, T0) == [T0]
    ((headers, body),) = receiver.seen
    assert headers["X-Paywalls-Event"] == "paywall.balance.deposit.created@1.0"
    assert headers["X-Paywalls-Timestamp"] == "2026-01-01T12:00:00.000Z"
    assert headers["X-Source"] == "emulator" and headers["Content-Type"] == "application/json"
    assert signing.verify(secret, body, headers["X-Paywalls-Signature"])
    parsed = json.loads(body)
    assert parsed["delivery"]["attempts"] == 1 and parsed["event"]["data"]["amount"] == "2"
    (delivery,) = st.deliveries.values()
    assert delivery.status == "success" and st.pending == set()
    assert st.subscriptions[delivery.subscription_id].last_delivered_at == T0


@pytest.mark.asyncio
async def test_retries_on_the_schedule_until_success(aiohttp_server: Any) -> None:
    receiver, st, secret = await setup(aiohttp_server, [500, 503, 429, 200])
    (delivery,) = st.deliveries.values()
    instants = await drive(st, T0 + timedelta(hours=1))
    expected = [T0]
    for n in range(1, 4):
        expected.append(expected[-1] + webhooks.retry_delay(st.id_seed, delivery.id, n))
    assert instants == expected
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(instants)]
    assert 30 <= gaps[0] <= 33 and 60 <= gaps[1] <= 66 and 120 <= gaps[2] <= 132
    assert [json.loads(body)["delivery"]["attempts"] for _, body in receiver.seen] == [1, 2, 3, 4]
    assert all(signing.verify(secret, body, h["X-Paywalls-Signature"]) for h, body in receiver.seen)
    assert delivery.status == "success" and [a.status_code for a in delivery.attempts] == [500, 503, 429, 200]


@pytest.mark.asyncio
async def test_a_stop_status_ends_at_once(aiohttp_server: Any) -> None:
    receiver, st, _ = await setup(aiohttp_server, [410])
    assert await drive(st, T0 + timedelta(days=1)) == [T0]
    (delivery,) = st.deliveries.values()
    assert delivery.status == "error" and len(receiver.seen) == 1


@pytest.mark.asyncio
async def test_eight_attempts_then_error(aiohttp_server: Any) -> None:
    receiver, st, _ = await setup(aiohttp_server, [500] * 20)
    instants = await drive(st, T0 + timedelta(days=1))
    (delivery,) = st.deliveries.values()
    assert len(instants) == 8 and len(receiver.seen) == 8 and delivery.status == "error"
    assert instants[-1] - instants[0] >= timedelta(seconds=30 * (2**7 - 1))


@pytest.mark.asyncio
async def test_unreachable_receiver_is_retried() -> None:
    st = state()
    webhooks.create_subscription(st, st.paywalls["pw_app"], NewSubscription(url="http://127.0.0.1:9/x", events=["*"]),
                                 now=T0, secrets=Secrets())
    balances.deposit(st, st.paywalls["pw_app"], "bob", "2", metadata=None, idempotency_key=None, now=T0)
    await drive(st, T0)
    (delivery,) = st.deliveries.values()
    assert delivery.status == "pending" and delivery.attempts[0].status_code is None
    assert (delivery.attempts[0].error or "").startswith("connection error")
