"""Balances of Paywalls.ai users: reading, deposits (default mode, idempotent), fixed charges, top-up
sessions and their payment. Every function validates fully before it mutates and never awaits, so
concurrent calls can neither overdraw nor double-credit. Pure.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from ....engine.history import drop_leading
from ..errors import ConflictError, DefaultModeOnlyError, IdempotencyKeyReusedError, InvalidAmountError, NotFoundError
from ..links import Links
from ..models import ChargeResult, IdempotencyRecord, LedgerEntry, LedgerSource, Paywall, TopupSession
from ..money import AmountError, format_units, parse_amount
from ..state import PaywallsState
from . import access
from .access import open_topup
from .events import emit

__all__ = ["ChargeResult", "open_topup"]  # top-up sessions open in `access` (a refusal opens one); re-exported here

IDEMPOTENCY_TTL = timedelta(hours=24)
DECLINED_CARD = "4000000000000002"


def balance_of(state: PaywallsState, paywall: Paywall, user_id: str) -> int:
    return state.balances.get((paywall.scope, user_id), 0)


def positive_amount(text: str) -> int:
    try:
        amount = parse_amount(text)
    except AmountError as exc:
        raise InvalidAmountError(str(exc), param="amount") from exc
    if amount <= 0:
        raise InvalidAmountError("amount must be greater than zero", param="amount")
    return amount


def remembered(state: PaywallsState, paywall: Paywall, op: str, key: str | None, body: Any,
               now: datetime) -> tuple[tuple[str, str, str] | None, str, IdempotencyRecord | None]:
    """(slot, fingerprint, the first answer under this key or None); 409 for the same key, other body."""
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    if key is None:
        return None, fingerprint, None
    slot = (paywall.id, op, key)
    record = state.idempotency.get(slot)
    if record is None or record.expires_at <= now:
        return slot, fingerprint, None
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(param="Idempotency-Key")
    return slot, fingerprint, record


def credit(state: PaywallsState, paywall: Paywall, user_id: str, amount: int, *, now: datetime, source: LedgerSource,
           metadata: dict[str, Any] | None = None, actor: tuple[str, str] | None = None) -> LedgerEntry:
    """Add to the user's balance in the paywall's scope and record `paywall.balance.deposit.created`."""
    key = (paywall.scope, user_id)
    state.balances[key] = state.balances.get(key, 0) + amount
    entry = LedgerEntry(id=state.new_id("act"), paywall_id=paywall.id, user_id=user_id, kind="deposit",
                        amount=amount, requested=amount, source=source, created_at=now,
                        metadata=dict(metadata or {}))
    state.record_ledger(entry)
    emit(state, paywall, "paywall.balance.deposit.created", now=now, subject=("paywall.balance", entry.id),
         user_id=user_id, source="api" if source == "api" else "checkout", actor=actor,
         facts={"wallet_user_id": user_id, "external_user_id": user_id, "amount": amount, "currency": "usd",
                "source": source, "activity_id": entry.id}, metadata=metadata)
    return entry


def deposit(state: PaywallsState, paywall: Paywall, user_id: str, amount_text: str, *, metadata: dict[str, Any] | None,
            idempotency_key: str | None, now: datetime) -> int:
    """Default mode: credit `amount`; the balance after. A replayed key answers the first balance."""
    if paywall.mode != "default":
        raise DefaultModeOnlyError(param="user")
    amount = positive_amount(amount_text)
    slot, fingerprint, first = remembered(state, paywall, "deposit", idempotency_key,
                                          {"user": user_id, "amount": amount, "metadata": metadata}, now)
    if first is not None and first.balance is not None:
        return first.balance
    credit(state, paywall, user_id, amount, now=now, source="api", metadata=metadata)
    after = balance_of(state, paywall, user_id)
    _remember(state, slot, IdempotencyRecord(fingerprint=fingerprint, expires_at=now + IDEMPOTENCY_TTL,
                                             balance=after))
    return after


def charge(state: PaywallsState, paywall: Paywall, user_id: str, amount_text: str, *, idempotency_key: str | None,
           now: datetime, links: Links) -> ChargeResult:
    """Deduct a fixed amount if authorized and covered; else the paywall-required message, nothing charged."""
    amount = positive_amount(amount_text)
    slot, fingerprint, first = remembered(state, paywall, "charge", idempotency_key,
                                          {"user": user_id, "amount": amount}, now)
    if first is not None and first.charge is not None:
        return first.charge
    blocked = access.check(state, paywall, user_id, need=amount, now=now, links=links, request_id=None)
    if blocked is not None:
        emit(state, paywall, "paywall.balance.charge.failed", now=now, subject=("paywall.balance", user_id),
             user_id=user_id, source="api",
             facts={"wallet_user_id": user_id, "activity_id": None, "amount": amount, "error_code": blocked.reason})
        result = ChargeResult(success=False, message=blocked.message, balance=balance_of(state, paywall, user_id))
    else:
        entry = debit(state, paywall, user_id, amount, amount, now=now, source="charge")
        result = ChargeResult(success=True, message=f"Charged {format_units(entry.amount)} USDC.",
                              balance=balance_of(state, paywall, user_id))
    _remember(state, slot, IdempotencyRecord(fingerprint=fingerprint, expires_at=now + IDEMPOTENCY_TTL,
                                             charge=result))
    return result


def debit(state: PaywallsState, paywall: Paywall, user_id: str, owed: int, amount: int, *, now: datetime,
          source: LedgerSource, facts: dict[str, str | int | None] | None = None) -> LedgerEntry:
    """Take `amount` (≤ the balance; `owed` is what the price list asked) and record the charge events."""
    key = (paywall.scope, user_id)
    state.balances[key] = state.balances.get(key, 0) - amount
    entry = LedgerEntry(id=state.new_id("act"), paywall_id=paywall.id, user_id=user_id, kind="charge",
                        amount=amount, requested=owed, source=source, created_at=now)
    state.record_ledger(entry)
    trigger = "proxy" if source == "proxy" else "api"
    subject = ("paywall.balance", entry.id)
    if facts is not None:
        emit(state, paywall, "paywall.usage.charge.created", now=now, subject=subject, user_id=user_id,
             source=trigger, facts={"wallet_user_id": user_id, "activity_id": entry.id, **facts, "cost": amount})
    emit(state, paywall, "paywall.balance.charge.created", now=now, subject=subject, user_id=user_id, source=trigger,
         facts={"wallet_user_id": user_id, "activity_id": entry.id, "amount": amount, "processing_fee_amount": 0})
    emit(state, paywall, "paywall.balance.charge.completed", now=now, subject=subject, user_id=user_id,
         source=trigger, facts={"wallet_user_id": user_id, "activity_id": entry.id,
                                "settlement_reference": f"ledger:{entry.id}"})
    if state.balances[key] == 0:
        access.depleted(state, paywall, user_id, requested=owed - amount, now=now)
    return entry


def _remember(state: PaywallsState, slot: tuple[str, str, str] | None, record: IdempotencyRecord) -> None:
    """Keep the answer for its key until it expires; expired records go as new ones come (kept in creation
    order, so only the oldest are looked at): memory stays bounded by the keys of the last 24 h."""
    if slot is None:
        return
    table = state.idempotency
    table.pop(slot, None)  # a reused, expired key goes to the back
    table[slot] = record
    now = record.expires_at - IDEMPOTENCY_TTL
    drop_leading(table, lambda old: old.expires_at <= now)


# --- top-up sessions (the fake Stripe Checkout page) ----------------------------------------------


def require_topup(state: PaywallsState, session_id: str) -> TopupSession:
    found = state.topups.get(session_id)
    if found is None:
        raise NotFoundError(f"No top-up session {session_id!r}", code="not_found")
    return found


def pay_topup(state: PaywallsState, session_id: str, amount_text: str | None, card: str | None, *,
              now: datetime) -> TopupSession:
    """Pay an open session: credit the user (the declined test card changes nothing and raises)."""
    session = require_topup(state, session_id)
    if session.status != "open":
        raise ConflictError(f"This top-up session is already {session.status}", code="conflict")
    amount = positive_amount(amount_text) if amount_text else session.amount
    if card is not None and "".join(card.split()) == DECLINED_CARD:
        raise CardDeclinedError()
    paywall = state.paywalls[session.paywall_id]
    session.status, session.amount = "paid", amount
    actor = ("end-user", session.user_id)
    emit(state, paywall, "paywall.stripe.checkout.session.completed", now=now,
         subject=("paywall.checkout", session.id), user_id=session.user_id, source="checkout", actor=actor,
         facts={"checkout_session_id": session.id, "amount": amount, "currency": "usd",
                "wallet_user_id": session.user_id})
    credit(state, paywall, session.user_id, amount, now=now, source="stripe", actor=actor,
           metadata={"checkoutSession": session.id})
    return session


def cancel_topup(state: PaywallsState, session_id: str) -> TopupSession:
    session = require_topup(state, session_id)
    if session.status != "open":
        raise ConflictError(f"This top-up session is already {session.status}", code="conflict")
    session.status = "cancelled"
    return session


class CardDeclinedError(ConflictError):
    status = 402
    default_code = "card_declined"
    default_message = "Your card was declined (test card 4000 0000 0000 0002)"
