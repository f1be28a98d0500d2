"""The metered AI gateway's rules: which paywall, provider and user a call is about, and its charge.

`reserve` checks everything (paywall id, identity, tokenization, provider, balance) before it writes,
then debits the provider's cost at once, so two concurrent calls on a balance of 1 can never both
pass. `refund` gives the reservation back when the upstream did not answer 2xx. Charging rules: one
charge per call whose upstream answered 2xx; the `free` type is never charged. Forwarding itself is
the HTTP layer's business (`emulator.upstream`). No aiohttp.
"""

from __future__ import annotations

from datetime import datetime

from ....engine.structs import struct
from ..errors import BadRequestError, NotFoundError, PaymentRequiredError, PaywallNotFoundError, UnauthorizedError
from ..models import BalanceRow, Paywall, Provider, TokenType, User
from ..state import Store
from . import balances
from .identity import ensure_link, find_user

FREE_TYPE = "free"  # the query type the gateway never charges


@struct(frozen=True, kw_only=True)
class GatewayRequest:
    """What the gateway needs from one call, as it arrived."""

    provider_id: str
    paywall_query: str | None  # ?paywall_id=
    paywall_header: str | None  # X-Paywall-Id
    bearer_user_id: str | None  # the Bearer's user (wins over X-User-ID)
    x_user_id: str | None


@struct(kw_only=True)
class Charge:
    """A reservation made before forwarding; `amount` 0 means nothing was charged."""

    paywall: Paywall
    provider: Provider
    user_id: str
    query_type: str
    amount: int
    refunded: bool = False


class QuotaExceededError(PaymentRequiredError):
    """402 `not-enough-queries`: the balance is short of the provider's cost. Carries the user's balances
    as a read would show them and the provider's query type; views render them as the body's `details`."""

    def __init__(self, rows: list[BalanceRow], query_type: str) -> None:
        super().__init__(error="not-enough-queries")
        self.rows = rows
        self.query_type = query_type


class ProviderDisabledError(NotFoundError):
    default_code = "provider-disabled"
    default_message = "The API provider is disabled, or tokenization is off on this paywall"


def paywall_id_of(query: str | None, header: str | None) -> str:
    """The paywall id from `?paywall_id=` and/or `X-Paywall-Id`; both present must agree."""
    if query and header and query != header:
        raise BadRequestError(f"paywall_id {query!r} and X-Paywall-Id {header!r} disagree", code="invalid_request")
    found = query or header
    if not found:
        raise BadRequestError("Send the paywall id as ?paywall_id= or X-Paywall-Id", code="paywall_id_required",
                              error="paywall_id_required")
    return found


def reserve(store: Store, now: datetime, call: GatewayRequest) -> Charge:
    """Check the call and debit the provider's cost (unless the type is `free`), atomically.

    Order of refusals: 400 paywall id, 401 no identity, 404 paywall, then 404 `provider-disabled` for
    tokenization off, an unknown provider (or one of another paywall) and a disabled provider (the
    code the SDK documents for all three; only the message tells them apart), 402 balance.
    An unknown `X-User-ID` becomes a new user linked to the paywall (`userMeta.userId` = the header)
    with the daily-trial allowance; nothing is written before the last check passed.
    """
    paywall_id = paywall_id_of(call.paywall_query, call.paywall_header)
    if call.bearer_user_id is None and not call.x_user_id:
        raise UnauthorizedError("Send Authorization: Bearer <token> or X-User-ID", code="unauthorized")
    paywall = store.paywalls.get(paywall_id)
    if paywall is None:
        raise PaywallNotFoundError()
    if not paywall.tokenized:
        raise ProviderDisabledError("Tokenization is off on this paywall", error="provider-disabled")
    provider = store.providers.get(call.provider_id)
    if provider is None or provider.paywall_id != paywall.id:
        raise ProviderDisabledError("No API provider with this id on this paywall", error="provider-disabled")
    ttype = paywall.token_type(provider.type)
    if not provider.enabled or ttype is None:
        raise ProviderDisabledError("The API provider is disabled", error="provider-disabled")
    user = _caller(store, paywall, call)
    amount = 0 if ttype.type == FREE_TYPE else provider.cost
    user_id = user.id if user is not None else None
    if amount and balances.peek(store, now, paywall, user_id, ttype) < amount:
        raise QuotaExceededError(_peek_rows(store, now, paywall, user_id), ttype.type)
    # Every check passed: from here on only writes, with no await in between.
    if user is None:
        user = store.add_user(User(id=store.ids.uuid(), email=None, created_at=now))
        ensure_link(store, now, user, paywall, meta={"userId": call.x_user_id})
    else:
        ensure_link(store, now, user, paywall)
    balances.current(store, now, paywall, user.id, ttype).count -= amount
    return Charge(paywall=paywall, provider=provider, user_id=user.id, query_type=ttype.type, amount=amount)


def refund(store: Store, now: datetime, charge: Charge) -> None:
    """Give a reservation back (upstream non-2xx, unreachable, or the call was cancelled before the
    upstream answered): an atomic increment of the balance as it stands now, capped at
    `balances.MAX_BALANCE` (a credit may have filled it meanwhile). Once only; skipped when
    the world was reset or reseeded meanwhile (the paywall is no longer the same object)."""
    if charge.refunded or not charge.amount:
        return
    charge.refunded = True
    paywall = store.paywalls.get(charge.paywall.id)
    ttype = paywall.token_type(charge.query_type) if paywall is charge.paywall else None
    if paywall is None or ttype is None or charge.user_id not in store.users:
        return
    row = balances.current(store, now, paywall, charge.user_id, ttype)
    row.count = min(balances.MAX_BALANCE, row.count + charge.amount)  # a credit meanwhile may have filled it


def _caller(store: Store, paywall: Paywall, call: GatewayRequest) -> User | None:
    """The Bearer's user, else the user `X-User-ID` names (platform id or this paywall's
    `userMeta.userId`), else None: a new user is created once the call is accepted."""
    if call.bearer_user_id is not None:
        return store.users[call.bearer_user_id]
    return find_user(store, paywall, email=None, user_id=call.x_user_id)


def _peek_rows(store: Store, now: datetime, paywall: Paywall, user_id: str | None) -> list[BalanceRow]:
    """The user's balances as a read would show them, without writing (for the 402 body)."""
    return [_peek_row(store, now, paywall, user_id, t) for t in paywall.token_types]


def _peek_row(store: Store, now: datetime, paywall: Paywall, user_id: str | None, ttype: TokenType) -> BalanceRow:
    return BalanceRow(user_id=user_id or "", paywall_id=paywall.id, type=ttype.type,
                      count=balances.peek(store, now, paywall, user_id, ttype))
