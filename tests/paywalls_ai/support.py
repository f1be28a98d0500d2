"""Shared world sections and helpers for the Paywalls.ai unit tests (pure modules only)."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

from paywall_emulator.products.paywalls_ai.links import Links
from paywall_emulator.products.paywalls_ai.state import PaywallsState
from paywall_emulator.products.paywalls_ai.worldfile import parse_section

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LINKS = Links("http://emu.test")
MODEL = "fake-gpt-emulator"
SECTION: dict[str, Any] = {
    "paywalls": [
        {"id": "pw_app", "name": "Demo Chat", "mode": "default", "owner": "owner_1",
         "keys": ["sk-paywalls-v1-app"], "markup_percent": "20", "topup_amount": "5",
         "models": [{"id": MODEL, "display_name": "Fake GPT", "description": "echo",
                     "pricing": {"prompt": "0.5", "completion": "1", "request": "0.001"}}],
         "balances": {"alice": "1.00"}},
        {"id": "pw_shared", "name": "Shared <App>", "mode": "shared", "owner": "owner_2",
         "keys": ["sk-paywalls-v1-shared"],
         "templates": {"authorization_required": "Please let {{ name }} charge you: {{url}}"},
         "models": [{"id": MODEL, "pricing": {"prompt": "2", "completion": "4"}}],
         "connected": ["carol"]},
    ],
    "wallets": {"carol": "3", "dave": "2"},
}


def section() -> dict[str, Any]:
    return copy.deepcopy(SECTION)


def state(raw: dict[str, Any] | None = None) -> PaywallsState:
    return parse_section(raw if raw is not None else section(), now=T0, id_seed=7)


class Secrets:
    def __init__(self) -> None:
        self._rng = random.Random(1)

    def alnum(self, length: int, *, lower: bool = False) -> str:
        return "".join(self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length))
