"""`EmulatorConfig`: everything an emulator instance is started with. No aiohttp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

CheckoutUrlMode = Literal["hosted", "acquirer"]


@dataclass(slots=True, kw_only=True)
class EmulatorConfig:
    fixtures: Path | None = None  # None = the bundled fixtures/default.yaml
    seed: int = 0
    # The origin clients use to reach the emulator; bootstrap's settings.custom_domain echoes it
    # (the SDK rejects a mismatch). None = derived from each request's Host.
    public_origin: str | None = None
    checkout_urls: CheckoutUrlMode = "hosted"
    # Response validation failures: True = answer 500 naming the schema path (tests, CI);
    # False = pass the response through with an X-Emulator-Spec-Violation header.
    strict_responses: bool = True
    start_time: datetime | None = None  # freeze the clock at this instant
    webhook_timeout: float = 10.0
    public_spec: Path | None = None
    control_spec: Path | None = None
