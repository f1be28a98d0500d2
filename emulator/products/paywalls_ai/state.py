"""`PaywallsState`: every table of the Paywalls.ai product in one object (one per world, rebuilt on
reset), so two emulators in one process share nothing. No aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ...engine.ids import IdFactory
from .models import (
    AuthorizationRequest,
    Connection,
    Delivery,
    Event,
    IdempotencyRecord,
    LedgerEntry,
    Paywall,
    Subscription,
    TopupSession,
)

PRODUCT_NAME = "paywalls-ai"  # its world-file section and its key in the World


@dataclass(slots=True, kw_only=True)
class PaywallsState:
    loaded_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # when the world section was loaded
    ids: IdFactory = field(default_factory=lambda: IdFactory(0))  # seeded: subscription secrets
    id_seed: int = 0  # the world's id seed: webhook retry jitter derives from it
    paywalls: dict[str, Paywall] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # secret key -> paywall id
    balances: dict[tuple[str, str], int] = field(default_factory=dict)  # (scope, user) -> base units
    ledger: list[LedgerEntry] = field(default_factory=list)
    connections: dict[tuple[str, str], Connection] = field(default_factory=dict)  # (paywall, user)
    authorizations: dict[str, AuthorizationRequest] = field(default_factory=dict)
    topups: dict[str, TopupSession] = field(default_factory=dict)
    idempotency: dict[tuple[str, str, str], IdempotencyRecord] = field(default_factory=dict)  # (paywall, op, key)
    events: list[Event] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)  # ids of deliveries with an attempt still to make
    counters: dict[str, int] = field(default_factory=dict)

    def pending_deliveries(self) -> list[Delivery]:
        return [self.deliveries[i] for i in sorted(self.pending)]

    @property
    def events_by_id(self) -> dict[str, Event]:
        return {event.id: event for event in self.events}

    def next_number(self, name: str) -> int:
        value = self.counters.get(name, 0) + 1
        self.counters[name] = value
        return value

    def new_id(self, prefix: str) -> str:
        """Sequential ids (`evt_000001`): deterministic without consuming the world's random ids."""
        return f"{prefix}_{self.next_number(prefix):06d}"
