"""The `/v1/user/*` calls over raw HTTP: every rule with its values and the state after, and 1,000
concurrent charges against a balance that covers 600 ending exact."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import requests

from .http_support import DEMO_KEY, SHARED_KEY, UNIT, Pw, error_of, link_in


@pytest.fixture
def pw(emu: object) -> Pw:
    return Pw(emu.base_url)  # type: ignore[attr-defined]


def test_balance_shapes(pw: Pw) -> None:
    assert pw.get("/v1/user/balance", params={"user": "alice"}).json() == {
        "balance": str(UNIT), "balanceFormatted": "1.00"}
    assert pw.get("/v1/user/balance", headers={"X-Paywall-User": "nobody"}).json() == {
        "balance": "0", "balanceFormatted": "0.00"}
    # The query wins over the header on the GET user calls.
    assert pw.get("/v1/user/balance", params={"user": "alice"}, headers={"X-Paywall-User": "nobody"}).json()[
        "balance"] == str(UNIT)
    missing = pw.get("/v1/user/balance")
    assert missing.status_code == 400 and error_of(missing)["code"] == "user_required"


def test_deposit_idempotency_and_refusals(pw: Pw) -> None:
    first = pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "10.5", "metadata": {"r": "bonus"}},
                    headers={"Idempotency-Key": "evt_1"})
    assert first.status_code == 200 and first.json() == {"balanceFormatted": "10.50"}
    replay = pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "10.5", "metadata": {"r": "bonus"}},
                     headers={"Idempotency-Key": "evt_1"})
    assert replay.status_code == 200 and replay.json() == first.json()
    clash = pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "1"},
                    headers={"Idempotency-Key": "evt_1"})
    assert clash.status_code == 409 and error_of(clash)["code"] == "idempotency_key_reused"
    assert pw.balance("bob") == 21 * UNIT // 2
    for amount, code in (("0", "invalid_amount"), ("-1", "invalid_amount"), ("1e2", "invalid_amount"),
                         ("0.0000000000000000001", "invalid_amount")):
        bad = pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": amount})
        assert bad.status_code == 400 and error_of(bad)["code"] == code
    number = pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": 5})
    assert number.status_code == 400
    shared = Pw(pw.base_url, SHARED_KEY).post("/v1/user/balance/deposit", json={"user": "carol", "amount": "1"})
    assert shared.status_code == 400 and error_of(shared)["code"] == "default_mode_only"
    assert pw.balance("bob") == 21 * UNIT // 2


def test_charge_success_then_topup_message(pw: Pw) -> None:
    ok = pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.75"})
    assert ok.status_code == 200 and ok.json()["success"] is True
    assert pw.balance("alice") == UNIT // 4
    short = pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.5"})
    body = short.json()
    assert short.status_code == 200 and body["success"] is False and "/topup/" in link_in(body["message"])
    assert pw.balance("alice") == UNIT // 4


def test_topup_link_and_default_mode_connect(pw: Pw) -> None:
    link = pw.get("/v1/user/balance/topup", params={"user": "alice"}).json()["url"]
    assert link.startswith(pw.base_url + "/_emulator/paywalls-ai/topup/")
    status = pw.get("/v1/user/connect", params={"user": "alice"}).json()
    assert status["connected"] is True and status["connectedUser"]["paywallKeyId"] == "pw_demo"
    assert pw.get("/v1/user/disconnect", params={"user": "alice"}).json()["success"] is False


def test_shared_mode_charge_needs_authorization(emu: object) -> None:
    shared = Pw(emu.base_url, SHARED_KEY)  # type: ignore[attr-defined]
    refused = shared.post("/v1/user/charge", json={"user": "dave", "amount": "1"}).json()
    assert refused["success"] is False and "/authorize/" in link_in(refused["message"])
    assert shared.post("/v1/user/charge", json={"user": "carol", "amount": "1"}).json()["success"] is True
    assert shared.balance("carol") == 4 * UNIT
    # The shared wallet is the same whichever paywall reads it; the demo paywall's app scope is separate.
    assert Pw(emu.base_url, DEMO_KEY).balance("carol") == 0  # type: ignore[attr-defined]


def test_a_thousand_concurrent_charges_against_600_end_exact(emu: object, pw: Pw) -> None:
    pw.post("/v1/user/balance/deposit", json={"user": "crowd", "amount": "6"})

    async def storm() -> list[bool]:
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector,
                                         headers={"Authorization": f"Bearer {DEMO_KEY}"}) as session:
            async def one() -> bool:
                async with session.post(f"{pw.base_url}/v1/user/charge",
                                        json={"user": "crowd", "amount": "0.01"}) as resp:
                    assert resp.status == 200
                    return bool((await resp.json())["success"])
            return await asyncio.gather(*(one() for _ in range(1000)))

    results = asyncio.run(storm())
    assert sum(results) == 600 and len(results) == 1000
    assert pw.get("/v1/user/balance", params={"user": "crowd"}).json() == {"balance": "0", "balanceFormatted": "0.00"}


def test_idempotency_keys_live_24_hours_of_emulator_time(emu: Any, pw: Pw) -> None:
    emu.clock.freeze()
    deposit = {"user": "kim", "amount": "1"}
    key = {"Idempotency-Key": "signup:kim"}
    assert pw.post("/v1/user/balance/deposit", json=deposit, headers=key).status_code == 200
    emu.clock.advance(hours=23, minutes=59)
    assert pw.post("/v1/user/balance/deposit", json=deposit, headers=key).json() == {"balanceFormatted": "1.00"}
    assert pw.balance("kim") == UNIT
    emu.clock.advance(minutes=1)
    assert pw.post("/v1/user/balance/deposit", json=deposit, headers=key).json() == {"balanceFormatted": "2.00"}
    assert pw.balance("kim") == 2 * UNIT


def test_a_charge_replayed_under_its_key_charges_once_for_24_hours(emu: Any, pw: Pw) -> None:
    emu.clock.freeze()
    key = {"Idempotency-Key": "order-42"}
    first = pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.3"}, headers=key)
    assert first.status_code == 200 and first.json() == {"success": True, "message": "Charged 0.30 USDC."}
    emu.clock.advance(hours=23, minutes=59)
    again = pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.3"}, headers=key)
    assert again.status_code == 200 and again.json() == first.json()
    assert pw.balance("alice") == 7 * UNIT // 10
    clash = pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.2"}, headers=key)
    assert clash.status_code == 409 and error_of(clash)["code"] == "idempotency_key_reused"
    other_user = pw.post("/v1/user/charge", json={"user": "bob", "amount": "0.3"}, headers=key)
    assert other_user.status_code == 409 and pw.balance("alice") == 7 * UNIT // 10
    emu.clock.advance(minutes=1)  # the key expired: the same request is a new charge
    assert pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.3"}, headers=key).json()["success"] is True
    assert pw.balance("alice") == 4 * UNIT // 10


def test_the_topup_page_refuses_an_amount_of_zero_with_the_page(pw: Pw) -> None:
    page = pw.get("/v1/user/balance/topup", params={"user": "zed"}).json()["url"]
    zero = requests.post(page, data={"action": "pay", "amount": "0.00"}, timeout=10)
    assert zero.status_code == 400 and zero.headers["Content-Type"].startswith("text/html")
    assert "amount must be greater than zero" in zero.text and "data-testid=pay" in zero.text  # still open
    garbled = requests.post(page, data={"action": "pay", "amount": "ten"}, timeout=10)  # what the browser refuses
    assert garbled.status_code == 400 and error_of(garbled)["code"] == "invalid_amount"
    assert pw.balance("zed") == 0
    paid = requests.post(page, data={"action": "pay", "amount": "0.5"}, timeout=10)
    assert paid.status_code == 200 and "Payment received" in paid.text and pw.balance("zed") == UNIT // 2


def test_connect_approve_disconnect_values_on_the_emulator_clock(emu: Any) -> None:
    shared = Pw(emu.base_url, SHARED_KEY)
    emu.clock.set("2030-02-03T04:05:06Z")
    first = shared.get("/v1/user/connect", params={"user": "dave"}).json()
    assert first == {"connected": False, "message": "The user has not authorized Shared Wallet Demo yet.",
                     "url": f"{emu.base_url}/_emulator/paywalls-ai/authorize/auth_000001"}
    emu.clock.advance(minutes=5)
    assert requests.post(first["url"], data={"action": "approve"}, timeout=10).status_code == 200
    assert requests.post(first["url"], data={"action": "approve"}, timeout=10).status_code == 409  # decided
    assert shared.get("/v1/user/connect", params={"user": "dave"}).json() == {
        "connected": True, "message": "The user is connected to Shared Wallet Demo.",
        "connectedUser": {"paywallKeyId": "pw_shared", "userId": "dave", "externalUserId": "dave",
                          "createdAt": "2030-02-03T04:10:06.000Z"}}
    assert shared.get("/v1/user/disconnect", params={"user": "dave"}).json()["success"] is True
    assert shared.get("/v1/user/disconnect", params={"user": "dave"}).json()["success"] is False
    again = shared.get("/v1/user/connect", params={"user": "dave"}).json()
    assert again["connected"] is False and again["url"].endswith("/authorize/auth_000002")  # a new request
    assert shared.balance("dave") == 2 * UNIT


def test_concurrent_deposits_under_one_key_credit_once(pw: Pw) -> None:
    async def burst() -> list[tuple[int, Any]]:
        headers = {"Authorization": f"Bearer {DEMO_KEY}", "Idempotency-Key": "webhook-evt-77"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async def one() -> tuple[int, Any]:
                async with session.post(f"{pw.base_url}/v1/user/balance/deposit",
                                        json={"user": "burst", "amount": "1.5"}) as resp:
                    return resp.status, await resp.json()
            return await asyncio.gather(*(one() for _ in range(200)))

    answers = asyncio.run(burst())
    assert answers == [(200, {"balanceFormatted": "1.50"})] * 200
    assert pw.balance("burst") == 3 * UNIT // 2
