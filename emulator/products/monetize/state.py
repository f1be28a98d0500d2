"""The `Store`: every table of one emulator instance, plus its id factory.

One `Store` per world (`World.states["monetize"]`, `store_of(world)`); nothing lives at module level,
so two emulators in one process never share state. A reset builds a new one from the world file.
Lookups that several domain modules need live here; business rules do not. No aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ...config import Limits
from ...engine.ids import IdFactory
from .models import (
    AccessToken,
    AnalyticsEvent,
    BalanceRow,
    CheckoutSession,
    DeliveryLog,
    DomainEvent,
    IdempotencyRecord,
    Link,
    Offer,
    Owner,
    Payment,
    Paywall,
    PortalSession,
    Price,
    Provider,
    Refund,
    Subscription,
    Ticket,
    User,
    WebhookEndpoint,
)
from .models_auth import AuthTables

PRODUCT_NAME = "monetize"  # the product's name: its world-file section and its key in the World


class HasStates(Protocol):
    states: dict[str, Any]


def store_of(world: HasStates) -> Store:
    """This product's store in a world."""
    store: Store = world.states[PRODUCT_NAME]
    return store


@dataclass(slots=True)
class Store:
    seed: int = 0
    ids: IdFactory = field(default_factory=lambda: IdFactory(0))
    owners: dict[str, Owner] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # key -> owner id
    paywalls: dict[str, Paywall] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    users_by_email: dict[str, str] = field(default_factory=dict)  # lower-cased email -> user id
    links: dict[tuple[str, str], Link] = field(default_factory=dict)  # (user, paywall)
    balances: dict[tuple[str, str, str], BalanceRow] = field(default_factory=dict)  # (user, paywall, type)
    checkouts: dict[str, CheckoutSession] = field(default_factory=dict)
    portal_sessions: dict[str, PortalSession] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)
    analytics: list[AnalyticsEvent] = field(default_factory=list)
    webhook_endpoints: dict[str, WebhookEndpoint] = field(default_factory=dict)
    webhook_log: DeliveryLog = field(default_factory=DeliveryLog)  # every delivery of this world
    # Indexes of due work, so the scheduler never scans every row (ARCHITECTURE.md, "Time"): a heap of
    # (due instant, created, subscription id) entries, some stale (`lifecycle.next_period_end` drops or
    # re-files those), and the open checkouts in creation order (= expiry order; entries no longer open
    # are dropped when reached).
    subscription_due: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    open_checkouts: dict[str, None] = field(default_factory=dict)
    auth: AuthTables = field(default_factory=AuthTables)  # accounts, sessions, codes, mailbox, OAuth flows
    # History caps (configuration, applied on every load) and how many rows each capped table has lost
    # from its front so far: "events", "deliveries", "analytics" (`evict`; shown in the state dump).
    limits: Limits = field(default_factory=Limits, metadata={"transient": True})
    evicted: dict[str, int] = field(default_factory=dict)
    # subscription id -> how many `subscription.updated` events it has had (kept through evictions).
    update_counts: dict[str, int] = field(default_factory=dict)
    # Values derived from the seed-only tables (paywalls, prices, offers), e.g. the bootstrap structure
    # and its version: computed once per seed, dropped with everything else on reset or seed load.
    memo: dict[Any, Any] = field(default_factory=dict, metadata={"transient": True})  # never saved

    # --- lookups -------------------------------------------------------------------------

    def user_by_email(self, email: str) -> User | None:
        user_id = self.users_by_email.get(email.strip().lower())
        return self.users.get(user_id) if user_id else None

    def link(self, user_id: str, paywall_id: str) -> Link | None:
        return self.links.get((user_id, paywall_id))

    def prices_of(self, paywall_id: str) -> list[Price]:
        return [p for p in self.prices.values() if p.paywall_id == paywall_id]

    def offers_of(self, paywall_id: str) -> list[Offer]:
        return [o for o in self.offers.values() if o.paywall_id == paywall_id]

    def subscriptions_of(self, user_id: str, paywall_id: str) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.user_id == user_id and s.paywall_id == paywall_id]

    def payments_of(self, user_id: str, paywall_id: str) -> list[Payment]:
        return [p for p in self.payments.values() if p.user_id == user_id and p.paywall_id == paywall_id]

    def balances_of(self, user_id: str, paywall_id: str) -> list[BalanceRow]:
        return [b for (u, p, _), b in self.balances.items() if u == user_id and p == paywall_id]

    def add_checkout(self, session: CheckoutSession) -> CheckoutSession:
        self.checkouts[session.id] = session
        self.open_checkouts[session.id] = None
        return session

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        if user.email:
            self.users_by_email[user.email.strip().lower()] = user.id
        return user

    def record_event(self, event: DomainEvent) -> DomainEvent:
        self.events.append(event)
        if event.type == "subscription.updated":
            self.update_counts[event.subject] = self.update_counts.get(event.subject, 0) + 1
        return event

    def record_analytics(self, event: AnalyticsEvent) -> None:
        self.analytics.append(event)
        if len(self.analytics) > _high_water(self.limits.analytics):
            self.evict("analytics", self.analytics, len(self.analytics) - self.limits.analytics)

    def evict(self, table: str, rows: list[Any], count: int) -> None:
        """Drop the `count` oldest rows of a capped list, counting them in `evicted[table]`."""
        if count > 0:
            del rows[:count]
            self.evicted[table] = self.evicted.get(table, 0) + count


def _high_water(cap: int) -> int:
    """A capped table is trimmed back to its cap once it exceeds it by 1/16 (trimming is then rare)."""
    return cap + max(cap // 16, 1)
