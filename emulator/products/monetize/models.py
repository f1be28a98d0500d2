"""Entities of the emulated billing world, as plain dataclasses.

Owns the shapes of the rows kept in the `Store`; no behaviour beyond trivial derived properties.
Field names are the emulator's own; wire names live in `views.py`. Imports no aiohttp.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any, Literal

from ...engine.structs import struct

AcquirerName = Literal["stripe", "paddle", "freemius", "chargebee", "overpay"]
ACQUIRERS: tuple[AcquirerName, ...] = ("stripe", "paddle", "freemius", "chargebee", "overpay")
Interval = Literal["day", "week", "month", "year", "lifetime"]
SubscriptionStatus = Literal["trialing", "active", "past_due", "canceled", "incomplete", "unpaid"]
CheckoutStatus = Literal["open", "paid", "declined", "cancelled", "expired"]
PaymentStatus = Literal["succeeded", "failed", "refunded"]

# Statuses that grant access (has_active_subscription / paid).
ACTIVE_STATUSES: frozenset[str] = frozenset({"active", "trialing", "past_due"})


# What an endpoint's `events` may list (spec: WebhookEventSubscription): an event type, a family
# wildcard, or `*`.
WEBHOOK_SUBSCRIPTIONS = frozenset({
    "payment.completed", "subscription.created", "subscription.updated", "subscription.cancelled",
    "refund.created", "payment.*", "subscription.*", "refund.*", "*",
})


@struct(kw_only=True)
class WebhookEndpoint:
    id: str
    owner_id: str
    url: str
    secret: str
    events: list[str] | None = None  # None = every event type
    enabled: bool = True
    policy: dict[str, Any] = field(default_factory=dict)


@struct(kw_only=True)
class Owner:
    id: str
    name: str
    api_keys: list[str]


@struct(kw_only=True)
class Price:
    id: str
    paywall_id: str
    currency: str
    amount: float  # major units, as bootstrap shows it
    interval: Interval | None
    interval_count: int | None = 1
    trial_days: int | None = None
    label: str | None = None
    description: str | None = None
    local_currency: str | None = None
    local_amount: float | None = None
    active: bool = True  # a stale (replaced) price is kept but refused by start-checkout

    @property
    def unit_amount(self) -> int:
        """Minor units (cents)."""
        return round(self.amount * 100)

    @property
    def is_lifetime(self) -> bool:
        return self.interval in (None, "lifetime")


@struct(kw_only=True)
class Offer:
    id: str
    paywall_id: str
    discount_percent: float | None
    expires_at: datetime | None = None
    duration_minutes: int | None = None
    price_id: str | None = None
    label: str | None = None


@struct(kw_only=True)
class TokenType:
    type: str
    name: str
    description: str = ""
    monthly: int = 0  # granted by each subscription payment (per month of interval)
    daily_trial: int = 0  # the daily-trial allowance a balance is topped up to


@struct(kw_only=True)
class Provider:
    id: str
    paywall_id: str
    type: str  # token type charged
    cost: int = 1
    upstream: str = "fake"  # "fake" or an http(s) base URL
    headers: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    fake: dict[str, Any] = field(default_factory=dict)  # options of the fake upstream (latency_ms, fail_status, ...)


@struct(kw_only=True)
class Paywall:
    id: str
    owner_id: str
    name: str
    acquirer: AcquirerName
    test_mode: bool = True
    timezone: str = "UTC"
    success_redirect_url: str | None = None
    checkout_shop_url: str | None = None
    checkout_product_name: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, Any] | None = None
    locales: dict[str, Any] | None = None
    token_types: list[TokenType] = field(default_factory=list)
    acquirer_ref: str = ""  # e.g. the Freemius product id
    email_confirmation: bool = True  # sign-ups and anonymous upgrades wait for the e-mailed link

    @property
    def tokenized(self) -> bool:
        return bool(self.token_types)

    def token_type(self, name: str) -> TokenType | None:
        for token_type in self.token_types:  # a handful at most: a loop beats building an index
            if token_type.type == name:
                return token_type
        return None


@struct(kw_only=True)
class User:
    id: str  # the platform's auth user id
    email: str | None
    name: str | None = None
    created_at: datetime
    country: str = "US"


@struct(kw_only=True)
class Link:
    """A user's row on one paywall (`user_paywalls`): created by checkout, portal or a credit."""

    user_id: str
    paywall_id: str
    linked_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)
    had_trial: bool = False


@struct(kw_only=True)
class BalanceRow:
    """One token type's balance of one user on one paywall."""

    user_id: str
    paywall_id: str
    type: str
    count: int
    topped_up_on: str | None = None  # ISO date (paywall timezone) of the last daily top-up


@struct(kw_only=True)
class CheckoutSession:
    id: str
    paywall_id: str
    user_id: str
    price_id: str
    acquirer: AcquirerName
    url: str
    status: CheckoutStatus = "open"
    success_url: str | None = None
    error_url: str | None = None
    shop_url: str | None = None
    trial_days: int | None = None
    ignore_active_purchase: bool = False
    offer_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: datetime
    completed_at: datetime | None = None  # when it left `open` (paid, declined, cancelled or expired)
    payment_id: str | None = None  # its paid charge (after a trial: the trial-end one)
    subscription_id: str | None = None
    outcome_reason: str | None = None  # why it was declined (e.g. card_declined)


@struct(kw_only=True)
class PortalSession:
    id: str
    paywall_id: str
    user_id: str
    url: str
    return_url: str | None
    created_at: datetime
    # One-time link: the first visit opens it and gets `browser_key` (a cookie); later visits without
    # that key find it used.
    opened_at: datetime | None = None
    browser_key: str | None = None


@struct(kw_only=True)
class Subscription:
    id: str
    paywall_id: str
    user_id: str
    price_id: str
    status: SubscriptionStatus
    created: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool = False
    cancel_at: datetime | None = None
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    trial_start: datetime | None = None
    trial_end: datetime | None = None
    cancellation_reason: str | None = None
    fail_next_renewal: bool = False  # one-shot: the next renewal charge fails (control API)
    fail_renewals: bool = False  # every renewal charge fails (a magic test card at checkout)
    checkout_id: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@struct(kw_only=True)
class Payment:
    id: str
    paywall_id: str
    user_id: str
    price_id: str
    amount: int  # minor units
    currency: str
    status: PaymentStatus
    created: datetime
    subscription_id: str | None = None
    checkout_id: str | None = None
    refunded_amount: int = 0
    discount_percent: float | None = None  # the offer applied to this charge (first payment only)


@struct(kw_only=True)
class Refund:
    id: str
    payment_id: str
    amount: int
    currency: str
    status: str
    reason: str | None
    created: datetime


@struct(kw_only=True)
class Ticket:
    id: int
    paywall_id: str
    email: str
    user_id: str | None
    subject: str
    content: str
    files: list[dict[str, Any]]
    created_at: datetime
    status: str = "open"


@struct(kw_only=True)
class IdempotencyRecord:
    """A start-checkout answered under an `Idempotency-Key`: a replay renders `checkout` again."""

    key: str
    scope: str  # operation + paywall
    fingerprint: str
    checkout: CheckoutSession  # a copy, as it was answered
    created_at: datetime


@struct(kw_only=True)
class AccessToken:
    token: str
    user_id: str
    expires_at: datetime


@struct(frozen=True, kw_only=True)
class EventSnapshot:
    """The objects an event is about, copied at the instant of the event: a delivery queued now must
    not change when they do later. Views render it as the webhook's `data`."""

    paywall_id: str
    acquirer: AcquirerName
    price: Price
    user: User
    user_meta: dict[str, Any]  # the user's metadata on the paywall (`Link.meta`)
    subscription: Subscription | None = None
    payment: Payment | None = None
    refund: Refund | None = None


@struct(kw_only=True)
class DomainEvent:
    """A business event, the source of webhook deliveries (`type` is the webhook event type)."""

    id: str
    type: str
    owner_id: str
    paywall_id: str
    created_at: datetime
    data: EventSnapshot
    subject: str = ""  # ordering key, e.g. the subscription id


DeliveryStatus = Literal["pending", "succeeded", "failed"]


@struct(kw_only=True)
class DeliveryAttempt:
    """One HTTP attempt of a webhook delivery (`status_code` None: timeout or connection error)."""

    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0


@struct(kw_only=True)
class WebhookDelivery:
    """One event on its way to one endpoint, with every attempt made so far."""

    id: str
    event_id: str
    type: str
    endpoint_id: str
    url: str
    subject: str  # per-subject ordering key (the event's subject)
    body: bytes  # the envelope, serialised once: signatures cover exactly these bytes
    created_at: datetime
    status: DeliveryStatus = "pending"
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    next_attempt_at: datetime | None = None
    after: str | None = None  # a delivery that must finish (succeed or fail) before this one is sent
    schedule_start: datetime | None = None  # retry offsets count from here (first attempt or redelivery)
    schedule_attempts: int = 0  # attempts made since schedule_start
    duplicate_of: str | None = None  # set on the second copy sent by the `duplicate` policy




@struct(kw_only=True)
class AnalyticsEvent:
    paywall_id: str
    type: str
    ts: int | None
    props: dict[str, Any] | None
    visitor_id: str | None
    user_id: str | None
    received_at: datetime


@struct
class DeliveryLog:
    """Every webhook delivery of one world, plus the bookkeeping that orders them."""

    deliveries: dict[str, WebhookDelivery] = field(default_factory=dict)  # creation order
    pending: dict[str, WebhookDelivery] = field(default_factory=dict)
    cursor: int = 0  # how many of `store.events` were turned into deliveries
    chain_tail: dict[tuple[str, str], str] = field(default_factory=dict)  # (endpoint, subject) -> delivery
    held: dict[str, str] = field(default_factory=dict)  # endpoint -> delivery waiting for a swap partner
