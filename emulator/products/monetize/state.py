"""The `Store`: every table of one emulator instance, plus its id factory.

One `Store` per world (`World.states["monetize"]`, `store_of(world)`); nothing lives at module level,
so two emulators in one process never share state. A reset builds a new one from the world file.
Lookups that several domain modules need live here; business rules do not. No aiohttp.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any, Protocol

from ...config import Limits
from ...engine.history import trim_keys, trim_list
from ...engine.ids import IdFactory
from ...engine.structs import struct
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

# Statuses of a checkout that ended without a payment (`Store.end_checkout`).
UNPAID_ENDS = frozenset({"expired", "declined", "cancelled"})
PRODUCT_NAME = "monetize"  # the product's name: its world-file section and its key in the World


class HasStates(Protocol):
    states: dict[str, Any]


def store_of(world: HasStates) -> Store:
    """This product's store in a world."""
    store: Store = world.states[PRODUCT_NAME]
    return store


@struct
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
    # Entries deleted from the front of `open_checkouts` since it was last rebuilt: a dict keeps the holes
    # of deleted entries and every iteration steps over them, so it is rebuilt once they outnumber the rest.
    open_checkout_holes: int = field(default=0, compare=False, metadata={"transient": True})
    # How many entries were filed in those two indexes: nothing can fall due earlier than the scheduler
    # last found while it is unchanged (`Product.due_stamp`).
    due_filed: int = field(default=0, compare=False, metadata={"transient": True})
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
    # Per-user indexes, derived from the tables above (never saved; `reindex` rebuilds them from the
    # tables on construction, a world load and a restore): every write of a subscription, payment,
    # balance row or link goes through the `add_*`/`move_*` methods below, so reads by user never scan
    # a whole table.
    rows_by_user: dict[tuple[str, str], UserRows] = field(default_factory=dict, metadata={"transient": True})
    payments_by_subscription: dict[str, list[str]] = field(default_factory=dict, metadata={"transient": True})
    # (paywall id, the integrator's `userId` in a link's meta) -> user id; checked against the link on use.
    external_ids: dict[tuple[str, str], str] = field(default_factory=dict, metadata={"transient": True})
    # (paywall id, the SDK's `visitorId` in a checkout's meta) -> ids of the checkouts started under it,
    # so a sign-in that re-attributes guest purchases never scans every checkout.
    visitor_checkouts: dict[tuple[str, str], list[str]] = field(default_factory=dict, metadata={"transient": True})
    # Checkouts that ended unpaid, in the order they ended: past `limits.checkouts` the oldest are dropped
    # (`end_checkout`); paid ones stay, since their payments and subscriptions name them.
    unpaid_checkouts: dict[str, None] = field(default_factory=dict, metadata={"transient": True})

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild every derived index from the tables (after a world load or a restore)."""
        self.rows_by_user, self.payments_by_subscription, self.external_ids = {}, {}, {}
        self.visitor_checkouts = {}
        for session in self.checkouts.values():
            self._index_visitor(session)
        ended = [c for c in self.checkouts.values() if c.status in UNPAID_ENDS and c.completed_at is not None]
        self.unpaid_checkouts = dict.fromkeys(c.id for c in sorted(ended, key=lambda c: c.completed_at or c.created_at))
        for sub in self.subscriptions.values():
            self._rows(sub.user_id, sub.paywall_id).subscriptions.append(sub.id)
        for payment in self.payments.values():
            self._index_payment(payment)
        for (user_id, paywall_id, type_) in self.balances:
            self._rows(user_id, paywall_id).balance_types.append(type_)
        for link in self.links.values():
            self.index_link_meta(link)

    def _rows(self, user_id: str, paywall_id: str) -> UserRows:
        rows = self.rows_by_user.get((user_id, paywall_id))
        if rows is None:
            rows = self.rows_by_user[(user_id, paywall_id)] = UserRows()
        return rows

    def _index_payment(self, payment: Payment) -> None:
        self._rows(payment.user_id, payment.paywall_id).payments.append(payment.id)
        if payment.subscription_id is not None:
            self.payments_by_subscription.setdefault(payment.subscription_id, []).append(payment.id)

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
        rows = self.rows_by_user.get((user_id, paywall_id))
        return [self.subscriptions[i] for i in rows.subscriptions] if rows else []

    def payments_of(self, user_id: str, paywall_id: str) -> list[Payment]:
        rows = self.rows_by_user.get((user_id, paywall_id))
        return [self.payments[i] for i in rows.payments] if rows else []

    def payments_of_subscription(self, subscription_id: str) -> list[Payment]:
        return [self.payments[i] for i in self.payments_by_subscription.get(subscription_id, ())]

    def balances_of(self, user_id: str, paywall_id: str) -> list[BalanceRow]:
        rows = self.rows_by_user.get((user_id, paywall_id))
        return [self.balances[(user_id, paywall_id, t)] for t in rows.balance_types] if rows else []

    def user_by_external_id(self, paywall_id: str, external_id: str) -> User | None:
        """The user whose link to `paywall_id` carries `external_id` as its meta `userId` (the link that
        carried it first). Every meta change is indexed (`index_link_meta`), so a miss means nobody; an
        entry whose link has dropped that id since is looked up again among the links."""
        user_id = self.external_ids.get((paywall_id, external_id))
        if user_id is None:
            return None
        link = self.links.get((user_id, paywall_id))
        if link is not None and str(link.meta.get("userId")) == external_id:
            return self.users.get(user_id)
        del self.external_ids[(paywall_id, external_id)]
        for (uid, pid), link in self.links.items():
            if pid == paywall_id and str(link.meta.get("userId")) == external_id:
                self.external_ids[(paywall_id, external_id)] = uid
                return self.users.get(uid)
        return None

    # --- writes that keep the indexes ------------------------------------------------------

    def add_subscription(self, sub: Subscription) -> Subscription:
        self.subscriptions[sub.id] = sub
        self._rows(sub.user_id, sub.paywall_id).subscriptions.append(sub.id)
        return sub

    def add_payment(self, payment: Payment) -> Payment:
        self.payments[payment.id] = payment
        self._index_payment(payment)
        return payment

    def add_balance(self, row: BalanceRow) -> BalanceRow:
        """File `row` under its key unless a row is there already; answers the row kept."""
        key = (row.user_id, row.paywall_id, row.type)
        kept = self.balances.get(key)
        if kept is None:
            kept = self.balances[key] = row
            self._rows(row.user_id, row.paywall_id).balance_types.append(row.type)
        return kept

    def add_link(self, link: Link) -> Link:
        self.links[(link.user_id, link.paywall_id)] = link
        self.index_link_meta(link)
        return link

    def index_link_meta(self, link: Link) -> None:
        """Call after a link's meta changed: its `userId` (if any) finds the link's user."""
        external = link.meta.get("userId")
        if external is not None:
            self.external_ids.setdefault((link.paywall_id, str(external)), link.user_id)

    def move_subscription(self, sub: Subscription, user_id: str) -> None:
        """Give `sub` to another user (visitor re-attribution)."""
        self.rows_by_user[(sub.user_id, sub.paywall_id)].subscriptions.remove(sub.id)
        sub.user_id = user_id
        self._rows(user_id, sub.paywall_id).subscriptions.append(sub.id)

    def move_payment(self, payment: Payment, user_id: str) -> None:
        self.rows_by_user[(payment.user_id, payment.paywall_id)].payments.remove(payment.id)
        payment.user_id = user_id
        self._rows(user_id, payment.paywall_id).payments.append(payment.id)

    def add_checkout(self, session: CheckoutSession) -> CheckoutSession:
        self.checkouts[session.id] = session
        self.open_checkouts[session.id] = None
        self.due_filed += 1
        self._index_visitor(session)
        return session

    def _index_visitor(self, session: CheckoutSession) -> None:
        visitor = session.meta.get("visitorId")
        if isinstance(visitor, str):
            self.visitor_checkouts.setdefault((session.paywall_id, visitor), []).append(session.id)

    def checkouts_of_visitor(self, paywall_id: str, visitor_id: str) -> list[CheckoutSession]:
        ids = self.visitor_checkouts.get((paywall_id, visitor_id), ())
        return [c for c in map(self.checkouts.get, ids) if c is not None]

    def end_checkout(self, session: CheckoutSession) -> None:
        """Call once `session` has ended unpaid: it joins the capped history of unpaid checkouts, whose
        oldest are dropped past `limits.checkouts` (counted under `evicted["checkouts"]`)."""
        self.unpaid_checkouts[session.id] = None
        for session_id in trim_keys(self.unpaid_checkouts, self.limits.checkouts, self.evicted, "checkouts"):
            dropped = self.checkouts.pop(session_id, None)
            visitor = dropped.meta.get("visitorId") if dropped is not None else None
            if dropped is not None and isinstance(visitor, str):
                kept = self.visitor_checkouts.get((dropped.paywall_id, visitor), [])
                if session_id in kept:
                    kept.remove(session_id)
                if not kept:
                    self.visitor_checkouts.pop((dropped.paywall_id, visitor), None)

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
        trim_list(self.analytics, self.limits.analytics, self.evicted, "analytics")

    def evict(self, table: str, rows: list[Any], count: int) -> None:
        """Drop the `count` oldest rows of a capped list, counting them in `evicted[table]`."""
        if count > 0:
            del rows[:count]
            self.evicted[table] = self.evicted.get(table, 0) + count


@struct
class UserRows:
    """The ids of one user's rows on one paywall, in creation order (`Store.rows_by_user`)."""

    subscriptions: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    balance_types: list[str] = field(default_factory=list)
