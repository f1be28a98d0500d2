"""The proxy's rules: admitting a chat completion (model known, user authorized and funded) and
charging the usage the provider reported once the answer is complete. Pure; the transport that
forwards and relays lives with the handlers.
"""

from __future__ import annotations

from datetime import datetime

from ....engine.structs import struct
from ..errors import ModelNotFoundError
from ..links import Links
from ..models import LedgerEntry, ModelPrice, Paywall
from ..money import usage_cost
from ..state import PaywallsState
from . import access
from .access import Blocked
from .balances import balance_of, debit


@struct(frozen=True, kw_only=True)
class Admission:
    paywall: Paywall
    user_id: str
    model: ModelPrice
    request_id: str


def admit(state: PaywallsState, paywall: Paywall, user_id: str, model_id: str, *, now: datetime,
          links: Links) -> Admission | Blocked:
    """The go-ahead to forward, or the paywall-required refusal (nothing charged). A funded user holds at
    least the model's per-request fee (and at least one base unit)."""
    model = paywall.models.get(model_id)
    if model is None:
        raise ModelNotFoundError(f"The model {model_id!r} does not exist on this paywall", param="model")
    request_id = state.new_id("req")
    blocked = access.check(state, paywall, user_id, need=model.request, now=now, links=links, request_id=request_id)
    return blocked or Admission(paywall=paywall, user_id=user_id, model=model, request_id=request_id)


def settle(state: PaywallsState, admission: Admission, *, prompt_tokens: int, completion_tokens: int,
           now: datetime) -> LedgerEntry | None:
    """Charge the reported usage at the model's prices plus the markup, capped at the balance (what could
    not be collected stays on the ledger entry as `requested - amount`); None when it costs nothing."""
    paywall, model = admission.paywall, admission.model
    owed = usage_cost(prompt_tokens=max(prompt_tokens, 0), completion_tokens=max(completion_tokens, 0),
                      prompt_price=model.prompt, completion_price=model.completion, request_price=model.request,
                      markup=paywall.markup)
    if owed == 0:
        return None
    amount = min(owed, max(balance_of(state, paywall, admission.user_id), 0))
    return debit(state, paywall, admission.user_id, owed, amount, now=now, source="proxy",
                 facts={"model": model.id, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                        "request_id": admission.request_id})
