"""`PayKitState`: every PayKit table of one emulator, rebuilt from the world file on each reset.

Lookups several domain modules share live here (key → project, account by scope); rules do not.
Nothing lives at module level. Imports no aiohttp.
"""

from __future__ import annotations

from dataclasses import field

from ...config import Limits
from ...engine.history import high_water, trim_keys, trim_list
from ...engine.ids import IdFactory
from ...engine.structs import struct
from .models import Account, CheckoutSession, PortalSession, Project, StripeEvent, Subscription, UsageEvent


@struct(kw_only=True)
class StripeSettings:
    configured: bool = True  # False: checkout/portal/webhook answer 501, like PayKit without STRIPE_SECRET_KEY
    tolerance_seconds: int = 300


@struct(kw_only=True)
class PayKitState:
    ids: IdFactory = field(default_factory=lambda: IdFactory(0))  # reseeded with the id seed on every load
    projects: dict[str, Project] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # publishable or secret key -> project id
    accounts: dict[str, Account] = field(default_factory=dict)  # "<project>:<user>" -> account, creation order
    usage: list[UsageEvent] = field(default_factory=list)
    checkouts: dict[str, CheckoutSession] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    portals: dict[str, PortalSession] = field(default_factory=dict)
    events: dict[str, StripeEvent] = field(default_factory=dict)  # the fake Stripe's outbox, creation order
    # Indexes of due work, so a catch-up or the delivery worker never scans every row: open sessions in
    # creation order (= expiry order: one lifetime for all), active subscriptions, undelivered events.
    # Derived from the tables (never saved by `serve --state`: rebuilt on construction, so a restored
    # state's indexes hold its own rows, not copies).
    open_checkouts: dict[str, CheckoutSession] = field(default_factory=dict, metadata={"transient": True})
    active_subscriptions: dict[str, Subscription] = field(default_factory=dict, metadata={"transient": True})
    pending: dict[str, StripeEvent] = field(default_factory=dict, metadata={"transient": True})
    # Sessions that ended unpaid (expired), in the order they ended: past `limits.checkouts` the oldest go.
    unpaid_checkouts: dict[str, None] = field(default_factory=dict, metadata={"transient": True})
    # How many entries were filed in `open_checkouts` and `active_subscriptions` (the only ways work falls
    # due earlier than the billing source last found; period ends only move later): `Product.due_stamp`.
    due_filed: int = field(default=0, compare=False, metadata={"transient": True})
    stripe: StripeSettings = field(default_factory=StripeSettings)
    base_url: str | None = None
    webhook_url: str | None = None  # where the fake Stripe posts events; None: the emulator's own /api/v1/webhook
    auth_required: bool = False  # emulated Clerk: /projects needs `Authorization: Bearer <owner>`
    # History caps (configuration, applied on every load; README "Memory"): the usage log keeps at most
    # about `limits.ledger` entries, the event log about `limits.events` delivered events, the sessions that
    # ended unpaid about `limits.checkouts`; `evicted` counts what each ("usage", "events", "checkouts") lost.
    limits: Limits = field(default_factory=Limits, metadata={"transient": True})
    evicted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.open_checkouts = {k: c for k, c in sorted(self.checkouts.items(), key=lambda kv: kv[1].created)
                               if c.status == "open"}
        self.active_subscriptions = {k: s for k, s in self.subscriptions.items() if s.status == "active"}
        self.pending = {k: e for k, e in self.events.items() if e.status == "pending"}
        ended = sorted((c for c in self.checkouts.values() if c.status in ("expired", "canceled")),
                       key=lambda c: c.expires_at)
        self.unpaid_checkouts = dict.fromkeys(c.id for c in ended)

    def add_project(self, project: Project) -> None:
        self.projects[project.id] = project
        self.keys[project.publishable_key] = project.id
        self.keys[project.secret_key] = project.id

    def project_by_key(self, key: str) -> Project | None:
        project_id = self.keys.get(key)
        return self.projects[project_id] if project_id is not None else None

    def accounts_of(self, project_id: str) -> list[Account]:
        return [a for a in self.accounts.values() if a.project_id == project_id]

    def end_checkout(self, session: CheckoutSession) -> None:
        """Call once `session` has ended unpaid: past `limits.checkouts` such sessions the oldest are dropped
        (counted under `evicted["checkouts"]`); paid ones stay, like their subscriptions."""
        self.unpaid_checkouts[session.id] = None
        for session_id in trim_keys(self.unpaid_checkouts, self.limits.checkouts, self.evicted, "checkouts"):
            del self.checkouts[session_id]

    def record_usage(self, entry: UsageEvent) -> None:
        self.usage.append(entry)
        trim_list(self.usage, self.limits.ledger, self.evicted, "usage")

    def record_event(self, event: StripeEvent) -> None:
        """Log an event of the fake Stripe; past the cap the oldest delivered ones go (never one still due)."""
        self.events[event.id] = event
        self.pending[event.id] = event
        extra = len(self.events) - self.limits.events
        if len(self.events) > high_water(self.limits.events):
            gone: list[str] = []
            for key, old in self.events.items():
                if len(gone) == extra or old.status == "pending":
                    break
                gone.append(key)
            for key in gone:
                del self.events[key]
            if gone:
                self.evicted["events"] = self.evicted.get("events", 0) + len(gone)

    def pending_events(self) -> list[StripeEvent]:
        return list(self.pending.values())
