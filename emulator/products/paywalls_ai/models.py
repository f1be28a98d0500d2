"""Entities of the Paywalls.ai product: paywalls and their models, ledger entries, authorizations,
top-up sessions, idempotency records, events, webhook subscriptions and deliveries.

Plain slotted dataclasses; money is integer base units (see `money`), time is aware UTC datetimes.
No aiohttp, no wire shapes.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any, Literal

from ...engine.structs import struct

Mode = Literal["default", "shared"]
SHARED_SCOPE = "shared-wallet"  # the balance scope of every shared-mode wallet (cross-app)
BlockReason = Literal["authorization_required", "insufficient_funds"]
DeliveryStatus = Literal["pending", "success", "error"]
LedgerSource = Literal["api", "stripe", "proxy", "charge", "world"]


@struct(kw_only=True)
class ModelPrice:
    id: str
    display_name: str
    description: str
    prompt: int  # base units per million prompt tokens
    completion: int  # base units per million completion tokens
    request: int  # base units per call


@struct(kw_only=True)
class Paywall:
    id: str
    name: str
    mode: Mode
    owner_user_id: str
    keys: tuple[str, ...]
    markup: tuple[int, int]  # an exact fraction (numerator, denominator): 20 % is (1, 5)
    upstream: str  # "fake" (the built-in provider) or an http(s) base URL
    upstream_headers: dict[str, str]
    templates: dict[BlockReason, str]
    topup_amount: int  # what the top-up page proposes
    models: dict[str, ModelPrice]

    @property
    def scope(self) -> str:
        """Whose balances this paywall spends: its own (default mode) or the shared wallets."""
        return SHARED_SCOPE if self.mode == "shared" else self.id


@struct(kw_only=True)
class LedgerEntry:
    id: str  # the activity id of the events
    paywall_id: str
    user_id: str
    kind: Literal["deposit", "charge"]
    amount: int  # what moved
    requested: int  # what was owed (a usage charge is capped at the balance: requested - amount uncollected)
    source: LedgerSource
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


@struct(kw_only=True)
class Connection:
    id: str
    paywall_id: str
    user_id: str
    wallet_user_id: str
    created_at: datetime


@struct(kw_only=True)
class AuthorizationRequest:
    id: str
    paywall_id: str
    user_id: str
    status: Literal["open", "approved", "declined"]
    created_at: datetime


@struct(kw_only=True)
class TopupSession:
    id: str
    paywall_id: str
    user_id: str
    status: Literal["open", "paid", "cancelled"]
    amount: int  # proposed; the paid amount once paid
    created_at: datetime


@struct(frozen=True, kw_only=True)
class ChargeResult:
    success: bool
    message: str
    balance: int


@struct(kw_only=True)
class IdempotencyRecord:
    """The first answer under a key: a deposit's balance after, or a charge's result."""

    fingerprint: str
    expires_at: datetime
    balance: int | None = None
    charge: ChargeResult | None = None


@struct(kw_only=True)
class Event:
    id: str
    paywall_id: str
    owner_user_id: str
    type: str
    created_at: datetime
    source: str
    actor_type: str
    actor_id: str
    subject_type: str
    subject_id: str
    external_id: str | None
    facts: dict[str, str | int | None]  # snake_case keys; money facts are int base units
    metadata: dict[str, Any] = field(default_factory=dict)


@struct(kw_only=True)
class Subscription:
    id: str
    paywall_id: str
    url: str
    events: tuple[str, ...]
    is_active: bool
    description: str | None
    custom_headers: dict[str, str]
    secret: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    consecutive_failures: int = 0
    last_delivered_at: datetime | None = None


@struct(kw_only=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None


@struct(kw_only=True)
class Delivery:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    attempts: list[Attempt] = field(default_factory=list)
