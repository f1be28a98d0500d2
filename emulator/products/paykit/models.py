"""Entities of the PayKit world: projects and their keys, accounts, the usage log, and the fake Stripe's
checkout sessions, subscriptions, portal sessions and its events (each with a snapshot of what it is
about). Plain dataclasses without rules; wire names live in `views`. Imports no aiohttp.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Literal

from ...engine.structs import struct

Plan = Literal["free", "pro"]
PLANS: tuple[Plan, ...] = ("free", "pro")
UsageKind = Literal["meter", "grant", "plan"]
CheckoutKind = Literal["credits", "pro"]
CheckoutStatus = Literal["open", "complete", "canceled", "expired"]
SubscriptionStatus = Literal["active", "canceled"]
DeliveryStatus = Literal["pending", "delivered", "failed"]
StripeObjectKind = Literal["checkout.session", "subscription", "invoice"]

DEMO_PROJECT_ID = "default"  # PayKit's own id for the open demo project
DEMO_PUBLISHABLE_KEY = "pk_live_demo"
DEMO_SECRET_KEY = "sk_live_demo"
DEMO_OWNER = "demo"  # the shared owner when sign-in is not configured


@struct(kw_only=True)
class Project:
    id: str
    name: str
    publishable_key: str
    secret_key: str
    secure_metering: bool = False
    owner_id: str | None = None  # None: listed to nobody (the demo project)
    webhook_secret: str
    base_url: str | None = None  # where checkout returns (`/?paid=1`); None: the world's, else the emulator's


@struct(kw_only=True)
class Account:
    project_id: str
    user_id: str  # the caller's own id; the table key is `<project_id>:<user_id>`
    plan: Plan = "free"
    credits: int = 5
    entitlements: list[str] = field(default_factory=list)
    stripe_customer_id: str | None = None

    @property
    def scoped_id(self) -> str:
        return f"{self.project_id}:{self.user_id}"


@struct(kw_only=True)
class UsageEvent:
    project_id: str
    user_id: str
    kind: UsageKind
    name: str
    amount: int
    at: datetime
    cost_usd: float | None = None


@struct(kw_only=True)
class CheckoutSession:
    id: str
    project_id: str
    user_id: str
    kind: CheckoutKind
    amount_cents: int
    success_url: str
    cancel_url: str
    webhook_url: str
    created: datetime
    expires_at: datetime
    status: CheckoutStatus = "open"
    customer_id: str | None = None
    subscription_id: str | None = None
    payment_intent_id: str | None = None

    @property
    def mode(self) -> str:
        return "subscription" if self.kind == "pro" else "payment"


@struct(kw_only=True)
class Subscription:
    id: str
    project_id: str
    user_id: str
    customer_id: str
    webhook_url: str
    created: datetime
    current_period_start: datetime
    current_period_end: datetime
    status: SubscriptionStatus = "active"
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    renewals: int = 0


@struct(kw_only=True)
class PortalSession:
    id: str
    project_id: str
    user_id: str
    customer_id: str
    return_url: str
    created: datetime


@struct(kw_only=True)
class DeliveryAttempt:
    at: datetime
    status: int | None  # None: the POST itself failed
    body: str


@struct(frozen=True, kw_only=True)
class StripeSnapshot:
    """What a fake-Stripe event is about, copied at the instant of the event (an attempt made later sends
    what was true then): the session, or the subscription (an invoice's too, with the invoice's id), and
    the metadata PayKit's webhook reads. Views render it as the event's `data.object`."""

    object: StripeObjectKind
    metadata: dict[str, str]
    checkout: CheckoutSession | None = None
    subscription: Subscription | None = None
    invoice_id: str | None = None


@struct(kw_only=True)
class StripeEvent:
    """One event the fake Stripe sends to PayKit's webhook: its payload is serialised once, from `data`,
    when it is first sent; the signature is computed per attempt (Stripe signs with the attempt's
    timestamp)."""

    id: str
    type: str
    project_id: str
    created: datetime
    data: StripeSnapshot
    url: str
    next_attempt_at: datetime
    payload: bytes | None = None  # the envelope's bytes, kept once rendered: every attempt sends exactly these
    status: DeliveryStatus = "pending"
    sending: bool = field(default=False, metadata={"transient": True})  # an attempt is on the wire
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    @property
    def created_at(self) -> datetime:
        return self.created
