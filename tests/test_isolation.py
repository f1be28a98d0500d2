"""Emulators in one process share nothing; reset restores the seed exactly; the same seed gives the
same ids; the configured public origin is what clients are told. Uses its own emulators with frozen
clocks, so state dumps compare exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.products.monetize.state import store_of
from paywall_emulator.testing import ThreadedEmulator

from .conftest import ACME_KEY, ALICE, STRIPE_PW, TOKEN_PW

START = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


def frozen(seed: int = 0, **kwargs: Any) -> ThreadedEmulator:
    return ThreadedEmulator(EmulatorConfig(start_time=START, id_seed=seed, **kwargs))


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ThreadedEmulator, ThreadedEmulator]]:
    with frozen() as a, frozen() as b:
        yield a, b


@pytest.fixture
def a_and_b(pair: tuple[ThreadedEmulator, ThreadedEmulator]) -> tuple[ThreadedEmulator, ThreadedEmulator]:
    for emu in pair:
        emu.control.reset()
    return pair


def credit(emu: ThreadedEmulator, amount: int) -> requests.Response:
    return requests.post(f"{emu.base_url}/api/v1/paywall/{TOKEN_PW}/balances", headers={"X-Api-Key": ACME_KEY},
                         json={"user_id": ALICE, "type": "standard", "amount": amount, "op": "credit"}, timeout=30)


def start_checkout(emu: ThreadedEmulator, email: str = "same@example.com") -> dict[str, Any]:
    resp = requests.post(f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/start-checkout",
                         headers={"X-Api-Key": ACME_KEY}, json={"email": email, "priceId": "101"}, timeout=30)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def session_part(url: str) -> str:
    return url.split("/_emulator/", 1)[1]


def test_two_emulators_do_not_share_state(a_and_b: tuple[ThreadedEmulator, ThreadedEmulator]) -> None:
    a, b = a_and_b
    assert a.base_url != b.base_url and a.world is not b.world and store_of(a.world) is not store_of(b.world)
    assert credit(a, 100).json()["count"] == 142
    assert credit(b, 1).json()["count"] == 43
    start_checkout(a, "only.in.a@example.com")
    assert "only.in.a@example.com" in {u["email"] for u in a.control.state()["monetize"]["users"]}
    assert "only.in.a@example.com" not in {u["email"] for u in b.control.state()["monetize"]["users"]}
    # Resetting one leaves the other alone.
    a.control.reset()
    assert credit(a, 1).json()["count"] == 43
    assert credit(b, 1).json()["count"] == 44


def test_clocks_are_independent(a_and_b: tuple[ThreadedEmulator, ThreadedEmulator]) -> None:
    a, b = a_and_b
    before_b = b.control.clock.now()
    a.control.clock.advance(days=1)
    assert b.control.clock.now() == before_b
    assert a.control.clock.now() != before_b


def test_reset_restores_the_seed_exactly() -> None:
    with frozen() as emu:
        seeded = emu.control.state()
        first = start_checkout(emu)
        credit(emu, 7)
        token = emu.control.mint_token(STRIPE_PW, email="alice@example.com")
        requests.post(f"{emu.base_url}/api/paywall/cancel-subscription", headers={"Authorization": f"Bearer {token}"},
                      json={"subscriptionId": "sub_seedAlicePro000000000001", "cancellationReason": "x"}, timeout=30)
        requests.post(f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/support/ticket", timeout=30,
                      json={"subject": "Hello", "content": "x", "customer_email": "g@example.com"})
        requests.post(f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/events", timeout=30,
                      json={"events": [{"type": "paywall_viewed", "ts": 1}]})
        assert emu.control.state() != seeded
        emu.control.reset()
        assert emu.control.state() == seeded
        # The id factory is reseeded too: the same calls give the same ids again.
        assert start_checkout(emu) == first


def test_same_seed_same_ids_other_seed_other_ids() -> None:
    with frozen(seed=0) as a, frozen(seed=0) as b, frozen(seed=7) as c:
        ids = [start_checkout(e) for e in (a, b, c)]
        assert ids[0]["userId"] == ids[1]["userId"]
        assert session_part(ids[0]["checkoutUrl"]) == session_part(ids[1]["checkoutUrl"])
        assert ids[2]["userId"] != ids[0]["userId"]
        assert session_part(ids[2]["checkoutUrl"]) != session_part(ids[0]["checkoutUrl"])


def test_configured_public_origin_is_what_clients_are_told() -> None:
    with frozen(public_origin="https://pay.example.com") as emu:
        boot = requests.get(f"{emu.base_url}/api/v1/paywall/{STRIPE_PW}/bootstrap", timeout=30).json()
        assert boot["settings"]["custom_domain"] == "https://pay.example.com"
        assert start_checkout(emu)["checkoutUrl"].startswith("https://pay.example.com/_emulator/checkout/")
