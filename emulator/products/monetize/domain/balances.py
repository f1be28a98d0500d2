"""Token balances of tokenized paywalls: reads, credit/debit, the legacy withdraw, and the
daily-trial top-up.

The top-up is computed lazily on every read and write (`current`): at the first touch on a new
calendar day (the paywall's timezone) a balance below its daily-trial allowance is raised to it;
a higher balance is never reduced. Reads, debits and clock advances therefore all see the same
value whichever comes first; `peek` computes that value without writing, for checks that must refuse
before anything changes. Every change validates fully before mutating, and no `await` runs between
check and write, so a change is atomic against concurrent requests (gateway charges included). No balance
ever exceeds `MAX_BALANCE`: a credit that would pass it is refused, a payment's grant stops at it. No aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from ..errors import BadRequestError, ForbiddenError, IdentityNotFoundError, NotFoundError, PaywallNotFoundError
from ..models import BalanceRow, Payment, Paywall, TokenType, User
from ..state import Store
from .identity import ensure_link, find_user, require_identity
from .periods import MONTHS_PER_INTERVAL, local_date

Op = Literal["credit", "debit"]

# The largest balance, and the largest amount one call may move: a signed 32-bit integer, which every
# client holds exactly (JavaScript's Number included, whose exact range ends at 2**53 - 1) and which
# leaves room to add a grant or a refund without leaving that range. The spec's `maximum` of `amount`
# (POST balances) and `tokens` (withdraw-tokens) is this number.
MAX_BALANCE = 2_147_483_647


class InsufficientBalanceError(BadRequestError):
    default_code = "insufficient"
    default_message = "A debit would drop the balance below zero; nothing was debited"


def today(now: datetime, paywall: Paywall) -> str:
    """The daily-trial day of `now`: the ISO calendar date in the paywall's timezone (UTC default)."""
    return local_date(now, paywall.timezone).isoformat()


def _topped_up(row: BalanceRow | None, day: str, ttype: TokenType) -> int:
    """The count a row has on `day` once its due top-up is applied (a missing row: the allowance)."""
    if row is None:
        return ttype.daily_trial
    if row.topped_up_on is None or row.topped_up_on < day:
        return max(row.count, ttype.daily_trial)
    return row.count


def peek(store: Store, now: datetime, paywall: Paywall, user_id: str | None, ttype: TokenType) -> int:
    """What `current` would return as the count, without writing anything (checks before a change)."""
    row = store.balances.get((user_id, paywall.id, ttype.type)) if user_id is not None else None
    return _topped_up(row, today(now, paywall), ttype)


def current(store: Store, now: datetime, paywall: Paywall, user_id: str, ttype: TokenType) -> BalanceRow:
    """The balance row of one type, with any due daily top-up applied."""
    return _current(store, today(now, paywall), paywall, user_id, ttype)


def _current(store: Store, day: str, paywall: Paywall, user_id: str, ttype: TokenType) -> BalanceRow:
    """`current` on the daily-trial `day` (`today`)."""
    key = (user_id, paywall.id, ttype.type)
    row = store.balances.get(key)
    if row is None:
        row = BalanceRow(user_id=user_id, paywall_id=paywall.id, type=ttype.type, count=ttype.daily_trial,
                         topped_up_on=day)
        store.add_balance(row)
    elif row.topped_up_on is None or row.topped_up_on < day:
        row.count = _topped_up(row, day, ttype)
        row.topped_up_on = day
    return row


def topped_up_rows(store: Store, now: datetime, keys: Iterable[tuple[str, str, str]]) -> list[BalanceRow]:
    """The balance rows of `keys` with every due top-up applied (for whole-table views such as the state
    dump); the lazy per-row rule gives the same counts, so this never changes what a later read sees."""
    rows = []
    for key in keys:
        user_id, paywall_id, type_name = key
        paywall = store.paywalls.get(paywall_id)
        ttype = paywall.token_type(type_name) if paywall is not None else None
        rows.append(current(store, now, paywall, user_id, ttype) if paywall is not None and ttype is not None
                    else store.balances[key])
    return rows


def list_balances(store: Store, now: datetime, paywall: Paywall, user_id: str) -> list[BalanceRow]:
    """One row per configured token type (plus credited types outside the config), topped up."""
    day = today(now, paywall)
    rows = [_current(store, day, paywall, user_id, t) for t in paywall.token_types]
    known = {t.type for t in paywall.token_types}
    rows.extend(r for r in store.balances_of(user_id, paywall.id) if r.type not in known)
    return rows


def check_change(store: Store, now: datetime, paywall: Paywall, user_id: str | None, type_name: str,
                 amount: int, op: Op) -> TokenType:
    """Refuse, without writing, an amount outside 1..MAX_BALANCE, an unconfigured type, and a credit
    that would take the balance (as a read would show it now) above MAX_BALANCE."""
    if not 1 <= amount <= MAX_BALANCE:
        raise BadRequestError(f"amount must be an integer from 1 to {MAX_BALANCE}", code="invalid_amount",
                              error="invalid_amount")
    ttype = paywall.token_type(type_name)
    if ttype is None:
        raise BadRequestError(f"Token type {type_name!r} is not configured on this paywall",
                              code="token_type_not_found")
    if op == "credit":
        available = peek(store, now, paywall, user_id, ttype)
        if available + amount > MAX_BALANCE:
            raise BadRequestError(f"The credit would take the {type_name!r} balance above {MAX_BALANCE}; "
                                  "nothing was credited", code="invalid_amount", error="invalid_amount",
                                  type=type_name, available=available, maximum=MAX_BALANCE)
    return ttype


def adjust(store: Store, now: datetime, paywall: Paywall, user: User, type_name: str, amount: int,
           op: Op) -> BalanceRow:
    """Credit or debit `amount` of `type_name`; a debit below zero or a credit above MAX_BALANCE
    changes nothing."""
    ttype = check_change(store, now, paywall, user.id, type_name, amount, op)
    row = current(store, now, paywall, user.id, ttype)
    if op == "debit":
        if row.count < amount:
            raise InsufficientBalanceError(error="insufficient", type=type_name, available=row.count)
        row.count -= amount
    else:
        row.count += amount
    return row


def read_for_session(store: Store, now: datetime, paywall: Paywall, user: User) -> list[BalanceRow]:
    """A signed-in user's balances; the session links the user (trial tokens at registration)."""
    if not paywall.tokenized:
        return []
    ensure_link(store, now, user, paywall)
    return list_balances(store, now, paywall, user.id)


def adjust_for_identity(store: Store, now: datetime, paywall: Paywall, *, email: str | None,
                        user_id: str | None, type_name: str, amount: int,
                        op: Op) -> tuple[User, BalanceRow, list[BalanceRow]]:
    """The owner's credit/debit by e-mail or user id, for a user linked to the paywall: credit and
    debit alike answer `identity_not_found` for anyone else (002: "No user with that email/user_id
    linked to this paywall"), a user of another paywall included. Checked before any write."""
    require_identity(email, user_id)
    if paywall.token_type(type_name) is None:
        raise BadRequestError(f"Token type {type_name!r} is not configured on this paywall",
                              code="token_type_not_found")
    user = find_user(store, paywall, email=email, user_id=user_id)
    if user is None or store.link(user.id, paywall.id) is None:
        raise IdentityNotFoundError(error="identity_not_found",
                                    message="No user with that email/user_id is linked to this paywall")
    row = adjust(store, now, paywall, user, type_name, amount, op)
    return user, row, list_balances(store, now, paywall, user.id)


def withdraw(store: Store, now: datetime, paywall: Paywall, user_ref: str, tokens: int,
             token_type: str) -> BalanceRow:
    """The legacy debit-only call: its own error texts and 404 when the user has no balance."""
    user = find_user(store, paywall, email=None, user_id=user_ref)
    user_id = user.id if user else user_ref
    if store.link(user_id, paywall.id) is None or not store.balances_of(user_id, paywall.id):
        raise NotFoundError("No balance found for this user and paywall", code="no_balance",
                            error="No balance found for this user and paywall")
    ttype = paywall.token_type(token_type)
    if ttype is None:
        message = f"Token type {token_type} not found in user balance"
        raise BadRequestError(message, code="token_type_not_found", error=message)
    row = current(store, now, paywall, user_id, ttype)
    if row.count < tokens:
        raise BadRequestError("Insufficient tokens", code="insufficient_tokens", error="Insufficient tokens",
                              available=row.count, requested=tokens)
    row.count -= tokens
    return row


LEGACY_NOT_OWNER = "Unauthorized. You are not the owner of this paywall"


def withdraw_as_owner(store: Store, now: datetime, *, owner_id: str | None, paywall_id: str, user_ref: str,
                      tokens: int, token_type: str | None) -> BalanceRow:
    """The legacy withdraw names its paywall in the body: unknown → 404, another owner's → 403 with
    the legacy text; the token type defaults to `standard`."""
    paywall = store.paywalls.get(paywall_id)
    if paywall is None:
        raise PaywallNotFoundError()
    if owner_id is not None and paywall.owner_id != owner_id:
        raise ForbiddenError(LEGACY_NOT_OWNER, error=LEGACY_NOT_OWNER)
    return withdraw(store, now, paywall, user_ref, tokens, token_type or "standard")


def granted_tokens(ttype: TokenType, interval: str | None) -> int:
    """What one payment of a price with `interval` grants of `ttype` (`grant_for_payment`)."""
    return round(ttype.monthly * MONTHS_PER_INTERVAL.get(interval or "", 1.0))


def move_grants(store: Store, now: datetime, paywall: Paywall, payments: Iterable[Payment], from_user: str,
                to_user: str) -> None:
    """Purchases re-attributed from one user to another take along the tokens their payments granted
    (`grant_for_payment`), as far as the first user still holds them; a failed payment granted nothing."""
    for ttype in paywall.token_types:
        granted = sum(granted_tokens(ttype, store.prices[p.price_id].interval)
                      for p in payments if p.status != "failed" and p.price_id in store.prices)
        if granted <= 0:
            continue
        source = current(store, now, paywall, from_user, ttype)
        moved = min(granted, source.count)
        if moved:
            target = current(store, now, paywall, to_user, ttype)
            source.count -= moved
            target.count = min(MAX_BALANCE, target.count + moved)


def grant_for_payment(store: Store, now: datetime, paywall: Paywall, user_id: str, interval: str | None) -> None:
    """A subscription payment (initial or renewal) grants each token type its monthly count,
    scaled by the price interval (week 0.25, month 1, year 12); lifetime grants one month's worth.
    A payment cannot be refused, so a grant stops at MAX_BALANCE."""
    for ttype in paywall.token_types:
        grant = granted_tokens(ttype, interval)
        if grant:
            row = current(store, now, paywall, user_id, ttype)
            row.count = min(MAX_BALANCE, row.count + grant)
