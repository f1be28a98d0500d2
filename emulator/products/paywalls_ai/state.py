"""`PaywallsState`: every table of the Paywalls.ai product in one object (one per world, rebuilt on
reset), so two emulators in one process share nothing. No aiohttp.
"""

from __future__ import annotations

from dataclasses import field
from datetime import UTC, datetime

from ...config import Limits
from ...engine.history import high_water, trim_list
from ...engine.ids import IdFactory
from ...engine.structs import struct
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


@struct(kw_only=True)
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
    # History caps (configuration, applied on every load; README "Memory"): the ledger keeps at most about
    # `limits.ledger` entries, the event log about `limits.events` events (with their deliveries; never
    # one a delivery still waits on); `evicted` counts what each ("ledger", "events", "deliveries") lost.
    limits: Limits = field(default_factory=Limits, metadata={"transient": True})
    evicted: dict[str, int] = field(default_factory=dict)
    # The events by id (derived, never saved: rebuilt on construction, so a restored state indexes its own).
    events_by_id: dict[str, Event] = field(default_factory=dict, metadata={"transient": True})

    def __post_init__(self) -> None:
        self.events_by_id = {event.id: event for event in self.events}

    def record_ledger(self, entry: LedgerEntry) -> None:
        self.ledger.append(entry)
        trim_list(self.ledger, self.limits.ledger, self.evicted, "ledger")

    def record_event(self, event: Event) -> None:
        self.events.append(event)
        self.events_by_id[event.id] = event
        if len(self.events) > high_water(self.limits.events):
            self._trim_events(len(self.events) - self.limits.events)

    def _trim_events(self, extra: int) -> None:
        """Drop up to `extra` of the oldest events, stopping at the first one a pending delivery waits on,
        with their deliveries (all finished, since none of them is pending)."""
        waiting = {self.deliveries[i].event_id for i in self.pending if i in self.deliveries}
        count = 0
        while count < extra and self.events[count].id not in waiting:
            count += 1
        gone = {event.id for event in self.events[:count]}
        del self.events[:count]
        for event_id in gone:
            del self.events_by_id[event_id]
        dropped = [key for key, delivery in self.deliveries.items() if delivery.event_id in gone]
        for key in dropped:
            del self.deliveries[key]
        for table, lost in (("events", count), ("deliveries", len(dropped))):
            if lost:
                self.evicted[table] = self.evicted.get(table, 0) + lost

    def pending_deliveries(self) -> list[Delivery]:
        return [self.deliveries[i] for i in sorted(self.pending)]

    def next_number(self, name: str) -> int:
        value = self.counters.get(name, 0) + 1
        self.counters[name] = value
        return value

    def new_id(self, prefix: str) -> str:
        """Sequential ids (`evt_000001`): deterministic without consuming the world's random ids."""
        return f"{prefix}_{self.next_number(prefix):06d}"
