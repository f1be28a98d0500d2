"""Small steps the behavioural tests share: paths, a run-tagged checkout, a user's balances, requests sent
at once over several connections, and the `need()` skip for tests that need an id only the person running
the suite can name.

HTTP only (through `client.Api`), so every step works against a real deployment too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest
import requests

from paywall_emulator.contract_tests.client import Api, expect_ok
from paywall_emulator.contract_tests.session import ContractSession

C = TypeVar("C")  # a connection: an Api, a GuardedSession


def need(value: str | None, option: str, why: str) -> str:
    """The option's value, or a skip naming the option to pass (the bundled emulator sets them all)."""
    if not value:
        pytest.skip(f"needs {option}: {why}")
    return value


def user_path(paywall_id: str) -> str:
    return f"/api/v1/paywall/{paywall_id}/user"


def checkout_path(paywall_id: str) -> str:
    return f"/api/v1/paywall/{paywall_id}/start-checkout"


def balances_path(paywall_id: str) -> str:
    return f"/api/v1/paywall/{paywall_id}/balances"


def first_price(contract: ContractSession, paywall_id: str) -> int | str:
    def probe() -> None:
        boot = contract.bootstrap(paywall_id)
        assert boot is not None, f"GET /api/v1/paywall/{paywall_id}/bootstrap does not answer 200"
        assert contract.price_ids(paywall_id), f"paywall {paywall_id}'s bootstrap lists no prices"

    contract.require(f"a buyable price on paywall {paywall_id}", probe)
    prices = contract.price_ids(paywall_id)
    return int(prices[0]) if prices[0].isdigit() else prices[0]  # the SDK sends numbers


def checkout_body(contract: ContractSession, paywall_id: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"email": email, "priceId": first_price(contract, paywall_id),
            "userMeta": {"conformRun": contract.settings.run_id}, **extra}


def start_checkout(api: Api, contract: ContractSession, paywall_id: str, email: str, **extra: Any) -> dict[str, Any]:
    """A checkout for a run-tagged address: creates the user and links it to the paywall."""
    body = expect_ok(api.post(checkout_path(paywall_id), json=checkout_body(contract, paywall_id, email, **extra)))
    assert isinstance(body, dict) and body.get("userId"), body
    return body


def balances(api: Api, paywall_id: str, user_id: str) -> dict[str, int]:
    body = expect_ok(api.get(user_path(paywall_id), params={"user_id": user_id}))
    return {row["type"]: row["count"] for row in body["balances"]}


def adjust(api: Api, paywall_id: str, user_id: str, type_: str, amount: int, op: str) -> Any:
    return api.post(balances_path(paywall_id), json={"user_id": user_id, "type": type_, "amount": amount, "op": op})


def concurrently(connections: Sequence[C], calls: Sequence[Callable[[C], requests.Response]]
                 ) -> list[requests.Response]:
    """Send `calls` spread over `connections`, one thread per connection, every thread starting at the same
    moment (a barrier), so the target has several requests in flight at once. Answers in call order; an
    exception in any thread (e.g. the budget's cap) is raised here."""
    answers: list[requests.Response | None] = [None] * len(calls)
    errors: list[BaseException] = []
    start = threading.Barrier(len(connections))

    def worker(index: int, api: C) -> None:
        try:
            start.wait(timeout=60)
            for i in range(index, len(calls), len(connections)):
                answers[i] = calls[i](api)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=worker, args=(i, api), name=f"contract-conn-{i}", daemon=True)
               for i, api in enumerate(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [a for a in answers if a is not None]
