"""Small steps the behavioural tests share: paths, a run-tagged checkout, a user's balances, and the
`need()` skip for tests that need an id only the person running the suite can name.

HTTP only (through `client.Api`), so every step works against a real deployment too.
"""

from __future__ import annotations

from typing import Any

import pytest

from .client import Api, expect_ok
from .session import ContractSession


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
    prices = contract.price_ids(paywall_id)
    assert prices, f"paywall {paywall_id}'s bootstrap lists no prices, so nothing can be bought"
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
