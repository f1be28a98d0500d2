"""The credits ledger: accounts created on first touch (5 credits, plan free), atomic metering that never
goes below zero, grants, plan changes (plan → entitlements), and the usage log analytics read.
Every function validates fully before it mutates and never awaits, so each call is atomic. No aiohttp.
"""

from __future__ import annotations

import math
from datetime import datetime

from ....engine.structs import struct
from ..errors import INSUFFICIENT, refuse
from ..models import PLANS, Account, Plan, UsageEvent
from ..state import PayKitState
from .keys import Caller, require_granting_rights, require_metering_rights

STARTING_CREDITS = 5
MAX_COST = 1_000_000
MAX_AMOUNT = 1_000_000
MAX_COST_USD = 1_000_000
MAX_EVENT_CHARS = 64
PLAN_ENTITLEMENTS: dict[str, tuple[str, ...]] = {"free": (), "pro": ("pro",)}


@struct(frozen=True, kw_only=True)
class MeterResult:
    ok: bool
    remaining: int


def account(state: PayKitState, project_id: str, user_id: str) -> Account:
    """The account, created on first touch."""
    key = f"{project_id}:{user_id}"
    found = state.accounts.get(key)
    if found is None:
        found = state.accounts[key] = Account(project_id=project_id, user_id=user_id, credits=STARTING_CREDITS)
    return found


def require_user_id(user_id: str | None) -> str:
    if not user_id:
        raise refuse(400, "userId is required")
    return user_id


def read(state: PayKitState, caller: Caller, user_id: str) -> Account:
    """`GET /access`: the account (created on first touch)."""
    return account(state, caller.project.id, require_user_id(user_id))


def check_meter(event: str, cost: int, cost_usd: float | None) -> None:
    if not event.strip() or len(event) > MAX_EVENT_CHARS:
        raise refuse(400, "userId and event are required")
    if not _whole(cost) or not 1 <= cost <= MAX_COST:
        raise refuse(400, "cost must be a positive integer ≤ 1000000")
    if cost_usd is not None and (isinstance(cost_usd, bool) or not math.isfinite(cost_usd)
                                 or not 0 <= cost_usd <= MAX_COST_USD):
        raise refuse(400, "costUsd must be a non-negative number ≤ 1000000")


def meter(state: PayKitState, now: datetime, caller: Caller, user_id: str, event: str, *, cost: int = 1,
          cost_usd: float | None = None) -> MeterResult:
    """Deduct `cost` credits, all or nothing; a blocked meter raises 402 with the unchanged balance."""
    check_meter(event, cost, cost_usd)
    require_metering_rights(caller)
    acct = account(state, caller.project.id, user_id)
    if acct.credits < cost:
        raise refuse(402, INSUFFICIENT, ok=False, blocked=True, remaining=acct.credits)
    acct.credits -= int(cost)
    state.record_usage(UsageEvent(project_id=acct.project_id, user_id=user_id, kind="meter", name=event,
                                  amount=-int(cost), at=now, cost_usd=cost_usd))
    return MeterResult(ok=True, remaining=acct.credits)


def check_grant(amount: int | None, plan: str | None) -> None:
    if amount is not None and (not _whole(amount) or not 1 <= amount <= MAX_AMOUNT):
        raise refuse(400, "amount must be a positive integer ≤ 1000000")
    if plan is not None and plan not in PLANS:
        raise refuse(400, "unknown plan")


def grant(state: PayKitState, now: datetime, caller: Caller, user_id: str, *, amount: int | None = None,
          plan: str | None = None) -> Account:
    """Set the plan (first), then add credits; needs the secret key outside the demo project."""
    check_grant(amount, plan)
    require_granting_rights(caller)
    return apply_grant(state, now, account(state, caller.project.id, user_id), amount=amount, plan=plan)


def apply_grant(state: PayKitState, now: datetime, acct: Account, *, amount: int | None,
                plan: str | None) -> Account:
    """The already-checked change, shared by `/credits` and the Stripe webhook."""
    if plan is not None:
        set_plan(state, now, acct, plan)  # type: ignore[arg-type]  # checked against PLANS
    if amount is not None:
        acct.credits += int(amount)
        state.record_usage(UsageEvent(project_id=acct.project_id, user_id=acct.user_id, kind="grant",
                                      name="credits", amount=int(amount), at=now))
    return acct


def set_plan(state: PayKitState, now: datetime, acct: Account, plan: Plan) -> None:
    acct.plan = plan
    acct.entitlements = list(PLAN_ENTITLEMENTS[plan])
    state.record_usage(UsageEvent(project_id=acct.project_id, user_id=acct.user_id, kind="plan", name=plan,
                                  amount=0, at=now))


def _whole(value: object) -> bool:
    """An integer as JSON sees it (1.0 counts, like JavaScript's Number.isInteger); never a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()
