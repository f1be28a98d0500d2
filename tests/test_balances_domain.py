"""The balances and gateway domain without HTTP: subscription grants scaled by interval, `peek` agreeing
with `current`, and the gateway's reserve/refund bookkeeping (once only, never into a reset world)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paywall_emulator.products.monetize.domain import balances, gateway
from paywall_emulator.products.monetize.errors import PaymentRequiredError
from paywall_emulator.products.monetize.state import Store
from paywall_emulator.products.monetize.views import render_error
from tests.worlds import monetize_section, monetize_store

from .gateway_support import BOB, STANDARD

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def world() -> Store:
    store = monetize_store(monetize_section(), now=NOW)
    return store


def counts(store: Store, now: datetime, user_id: str = BOB) -> dict[str, int]:
    return {r.type: r.count for r in balances.list_balances(store, now, store.paywalls["15"], user_id)}


@pytest.mark.parametrize(("interval", "standard", "advanced"), [
    ("week", 250, 25), ("month", 1000, 100), ("year", 12000, 1200), ("lifetime", 1000, 100)])
def test_a_payment_grants_the_monthly_counts_scaled_by_interval(interval: str, standard: int, advanced: int) -> None:
    store = world()
    balances.grant_for_payment(store, NOW, store.paywalls["15"], BOB, interval)
    assert counts(store, NOW) == {"standard": standard, "advanced": advanced, "free": 0}


def test_a_grant_survives_the_next_top_ups() -> None:
    store = world()
    balances.grant_for_payment(store, NOW, store.paywalls["15"], BOB, "week")
    assert counts(store, NOW + timedelta(days=3)) == {"standard": 250, "advanced": 25, "free": 0}


def test_peek_agrees_with_current_and_writes_nothing() -> None:
    store = world()
    paywall = store.paywalls["15"]
    ttype = paywall.token_type("standard")
    assert ttype is not None
    later = NOW + timedelta(days=1)
    before = {k: (r.count, r.topped_up_on) for k, r in store.balances.items()}
    assert balances.peek(store, later, paywall, BOB, ttype) == 10
    assert balances.peek(store, later, paywall, "nobody", ttype) == 10
    assert {k: (r.count, r.topped_up_on) for k, r in store.balances.items()} == before
    assert balances.current(store, later, paywall, BOB, ttype).count == 10


def request(user: str | None = BOB, provider: str = STANDARD) -> gateway.GatewayRequest:
    return gateway.GatewayRequest(provider_id=provider, paywall_query="15", paywall_header=None,
                                  bearer_user_id=None, x_user_id=user)


def test_reserve_debits_and_refund_gives_back_once() -> None:
    store = world()
    # topped up to 10, minus 1
    charge = gateway.reserve(store, NOW + timedelta(days=1), request())
    assert counts(store, NOW + timedelta(days=1))["standard"] == 9
    gateway.refund(store, NOW + timedelta(days=1), charge)
    gateway.refund(store, NOW + timedelta(days=1), charge)
    assert counts(store, NOW + timedelta(days=1))["standard"] == 10


def test_the_second_of_two_reservations_on_a_balance_of_one_is_refused() -> None:
    store = world()
    balances.adjust(store, NOW, store.paywalls["15"], store.users[BOB], "standard", 1, "credit")
    gateway.reserve(store, NOW, request())
    with pytest.raises(gateway.QuotaExceededError) as refused:
        gateway.reserve(store, NOW, request())
    assert isinstance(refused.value, PaymentRequiredError) and refused.value.query_type == "standard"
    assert render_error(refused.value)["details"]["currentBalance"] == {"type": "standard", "count": 0}
    assert counts(store, NOW)["standard"] == 0


def test_a_refund_after_a_reset_does_not_land_in_the_new_world() -> None:
    store = world()
    balances.adjust(store, NOW, store.paywalls["15"], store.users[BOB], "standard", 1, "credit")
    charge = gateway.reserve(store, NOW, request())
    fresh = monetize_store(now=NOW)  # what /_emulator/reset builds: a new store; the old one is dropped
    gateway.refund(fresh, NOW, charge)
    assert counts(fresh, NOW)["standard"] == 0  # the value of the world file, untouched
