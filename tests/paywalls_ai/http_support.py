"""Helpers of the Paywalls.ai HTTP tests: the bundled world's keys and users, a raw client, and the
expected price of a fake-provider answer (computed from the prices, not copied from the emulator)."""

from __future__ import annotations

import re
from typing import Any

import requests
from openai import OpenAI

from paywall_emulator.products.paywalls_ai.money import parse_amount, parse_percent, usage_cost

DEMO_KEY = "sk-paywalls-v1-emulator-demo"
SHARED_KEY = "sk-paywalls-v1-emulator-shared"
MODEL = "fake-gpt-emulator"
PRICES = {"prompt": parse_amount("0.5"), "completion": parse_amount("1.5"), "request": parse_amount("0.0001")}
DEMO_MARKUP = (parse_percent("20").numerator, parse_percent("20").denominator)
UNIT = 10**18


def cost(prompt_tokens: int, completion_tokens: int, *, markup: Any = DEMO_MARKUP) -> int:
    return usage_cost(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, prompt_price=PRICES["prompt"],
                      completion_price=PRICES["completion"], request_price=PRICES["request"], markup=markup)


def echo_cost(text: str, *, markup: Any = DEMO_MARKUP) -> int:
    """The fake provider answers `Echo: <text>` and counts one token per word."""
    words = len(text.split())
    return cost(words, words + 1, markup=markup)


class Pw:
    """Raw HTTP against the Paywalls.ai surface with one paywall key."""

    def __init__(self, base_url: str, key: str | None = DEMO_KEY) -> None:
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                **kwargs: Any) -> requests.Response:
        h = dict(headers or {})
        if self.key is not None:
            h.setdefault("Authorization", f"Bearer {self.key}")
        return self.session.request(method, self.base_url + path, headers=h, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def balance(self, user: str) -> int:
        response = self.get("/v1/user/balance", params={"user": user})
        assert response.status_code == 200, response.text
        return int(response.json()["balance"])


def openai_client(base_url: str, key: str = DEMO_KEY) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def link_in(text: str) -> str:
    found = re.search(r"https?://\S+/_emulator/paywalls-ai/(?:topup|authorize)/[A-Za-z0-9_]+", text)
    assert found is not None, text
    return found.group(0)


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    error: dict[str, Any] = body["error"]
    return error
