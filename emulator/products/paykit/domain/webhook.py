"""PayKit's Stripe webhook: verify the `Stripe-Signature` (with the secret of the project the event
names), then apply `checkout.session.completed` (customer, pack credits, plan) and
`customer.subscription.deleted` (back to free); anything else is acknowledged and ignored. Refusals
change nothing. No aiohttp.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from .. import signing
from ..errors import HANDLER_ERROR, INVALID_SIGNATURE, WEBHOOK_NOT_CONFIGURED, refuse
from ..models import DEMO_PROJECT_ID, PLANS
from ..state import PayKitState
from . import ledger


def secret_for(state: PayKitState, project_id: str | None) -> str:
    """The secret the fake Stripe signs a project's events with (the demo project's for an unknown one)."""
    project = state.projects.get(project_id or "") or state.projects[DEMO_PROJECT_ID]
    return project.webhook_secret


def accepted_secrets(state: PayKitState, project_id: str | None) -> list[str]:
    """An event naming a project must be signed with that project's secret; one naming none (an invoice,
    which PayKit ignores anyway) may be signed with any project's."""
    if project_id is not None:
        return [secret_for(state, project_id)]
    return list(dict.fromkeys(p.webhook_secret for p in state.projects.values()))


def split_scoped(scoped: str) -> tuple[str, str]:
    """`<projectId>:<userId>`; an id without a colon belongs to the demo project."""
    project_id, sep, user_id = scoped.partition(":")
    return (project_id, user_id) if sep else (DEMO_PROJECT_ID, scoped)


def receive(state: PayKitState, now: datetime, payload: bytes, signature: str | None) -> str:
    """Verify and apply one event; returns its type. 501 unconfigured, 400 bad signature or not an event,
    500 metadata PayKit cannot apply (nothing changed)."""
    if not state.stripe.configured:
        raise refuse(501, WEBHOOK_NOT_CONFIGURED)
    event = _parse(payload)
    obj = _object(event)
    found = obj.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    user = metadata.get("userId")
    scoped = user if isinstance(user, str) and user else None
    project_id = split_scoped(scoped)[0] if scoped else None
    tolerance = state.stripe.tolerance_seconds
    if event is None or not any(signing.verify(payload, signature, secret, now, tolerance=tolerance)
                                for secret in accepted_secrets(state, project_id)):
        raise refuse(400, INVALID_SIGNATURE)
    event_type = str(event.get("type"))
    if scoped is None:
        return event_type
    if event_type == "checkout.session.completed":
        _complete(state, now, scoped, obj, metadata)
    elif event_type == "customer.subscription.deleted":
        ledger.set_plan(state, now, ledger.account(state, *split_scoped(scoped)), "free")
    return event_type


def _complete(state: PayKitState, now: datetime, scoped: str, obj: dict[str, Any], metadata: dict[str, Any]) -> None:
    pack = metadata.get("packCredits")
    amount = _js_number(pack) if isinstance(pack, str) and pack else None
    named = metadata.get("plan")
    plan = named if isinstance(named, str) and named else None
    if pack and (amount is None or not amount.is_integer() or not 1 <= amount <= ledger.MAX_AMOUNT):
        raise refuse(500, HANDLER_ERROR)
    if plan is not None and plan not in PLANS:
        raise refuse(500, HANDLER_ERROR)
    acct = ledger.account(state, *split_scoped(scoped))
    if isinstance(obj.get("customer"), str):
        acct.stripe_customer_id = obj["customer"]
    ledger.apply_grant(state, now, acct, amount=int(amount) if amount is not None else None, plan=None)
    if plan is not None:
        ledger.set_plan(state, now, acct, plan)


def _parse(payload: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) else None


def _object(event: dict[str, Any] | None) -> dict[str, Any]:
    data = event.get("data") if event else None
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else {}


def _js_number(text: str) -> float | None:
    """`Number(text)` as JavaScript reads a metadata string (whitespace trimmed, hex allowed)."""
    stripped = text.strip()
    try:
        value = float(int(stripped, 16)) if stripped.lower().startswith("0x") else float(stripped)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
