"""`EmulatorConfig`: everything an emulator instance is started with. No aiohttp."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Literal

from .engine.structs import struct

CheckoutUrlMode = Literal["hosted", "acquirer"]


@struct(frozen=True, kw_only=True)
class Limits:
    """How much history a world keeps (README, "Memory" under "Quick start"): past a cap the oldest rows
    are evicted (only ones nothing waits on: events already turned into deliveries, finished deliveries)
    and counted."""

    events: int = 100_000  # the event log (the webhook outbox)
    deliveries: int = 100_000  # finished webhook deliveries with their attempts
    analytics: int = 200_000  # ingested analytics events
    ledger: int = 200_000  # ledger entries: PayKit's usage log, Paywalls.ai's balance activity
    checkouts: int = 100_000  # checkout sessions that ended unpaid (expired, declined, cancelled)
    mailbox: int = 100_000  # messages in monetize's emulated mailbox (sign-in's codes and links)


@struct(kw_only=True)
class EmulatorConfig:
    world: Path | None = None  # the world file; None = the bundled fixtures/default.yaml
    # The bundled products to serve, by name (`app.BUNDLED`); None = all of them. Sections of a world file
    # naming a bundled product left out are skipped; the others' modules are never imported.
    products: tuple[str, ...] | None = None
    id_seed: int = 0  # seed of every id factory (ids repeat exactly for the same seed and calls)
    # The origin clients use to reach the emulator; bootstrap's settings.custom_domain echoes it
    # (the SDK rejects a mismatch). None = derived from each request's Host.
    public_origin: str | None = None
    checkout_urls: CheckoutUrlMode = "hosted"
    # Response validation failures: True = answer 500 naming the schema path (tests, CI);
    # False = pass the response through with an X-Emulator-Spec-Violation header.
    strict_responses: bool = True
    start_time: datetime | None = None  # freeze the clock at this instant
    webhook_timeout: float = 10.0
    limits: Limits = field(default_factory=Limits)
    # When set, every control operation but the pages a person opens in a browser (`x-emulator-page`)
    # needs this value in the X-Emulator-Token header.
    control_token: str | None = None
    # serve --state: the world is read from this file on start (when it exists) and written to it on a
    # clean shutdown and on POST /_emulator/snapshot.
    state_file: Path | None = None
    # Spec documents to serve instead of the bundled ones, by bundled file name (a test seam).
    spec_overrides: dict[str, Path] = field(default_factory=dict)
