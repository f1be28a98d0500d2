"""Whether a user may be charged now, and the paywall-required message when not.

Shared mode needs an authorization (connect) first; both modes need funds. A refusal opens what the
user must do (an authorization request or a top-up session), records its events and answers the
paywall's template for that reason with `{{url}}` and `{{name}}` filled in. Pure.
"""

from __future__ import annotations

from datetime import datetime

from ....engine.structs import struct
from ..errors import ConflictError, NotFoundError
from ..links import Links, fill
from ..models import AuthorizationRequest, BlockReason, Connection, Paywall, TopupSession
from ..state import PaywallsState
from .events import emit


@struct(frozen=True)
class Blocked:
    reason: BlockReason
    message: str
    url: str
    request_id: str | None = None  # the proxied request refused, if it was one


def check(state: PaywallsState, paywall: Paywall, user_id: str, *, need: int, now: datetime, links: Links,
          request_id: str | None) -> Blocked | None:
    """None when the user is authorized (shared mode) and holds at least `need` (≥ 1) base units."""
    if paywall.mode == "shared" and (paywall.id, user_id) not in state.connections:
        request = request_authorization(state, paywall, user_id, now=now, links=links)
        blocked = Blocked(reason="authorization_required", url=links.authorize(request.id), request_id=request_id,
                          message=fill(paywall.templates["authorization_required"], url=links.authorize(request.id),
                                       name=paywall.name))
    else:
        available = state.balances.get((paywall.scope, user_id), 0)
        if available >= max(need, 1):
            return None
        depleted(state, paywall, user_id, requested=max(need, 1), now=now)
        session = open_topup(state, paywall, user_id, now=now, links=links)
        blocked = Blocked(reason="insufficient_funds", url=links.topup(session.id), request_id=request_id,
                          message=fill(paywall.templates["insufficient_funds"], url=links.topup(session.id),
                                       name=paywall.name))
    if request_id is not None:
        emit(state, paywall, "paywall.request.blocked", now=now, subject=("paywall.request", request_id),
             user_id=user_id, source="proxy", actor=("end-user", user_id),
             facts={"wallet_user_id": user_id, "reason": blocked.reason, "request_id": request_id})
    return blocked


def depleted(state: PaywallsState, paywall: Paywall, user_id: str, *, requested: int, now: datetime) -> None:
    emit(state, paywall, "paywall.balance.depleted", now=now, subject=("paywall.balance", user_id), user_id=user_id,
         source="proxy", facts={"wallet_user_id": user_id, "requested_amount": requested,
                                "available_balance": state.balances.get((paywall.scope, user_id), 0)})


def open_topup(state: PaywallsState, paywall: Paywall, user_id: str, *, now: datetime, links: Links,
               actor: tuple[str, str] | None = None) -> TopupSession:
    """A new session and `paywall.balance.topup.link.created`."""
    session = TopupSession(id=state.new_id("cs_test"), paywall_id=paywall.id, user_id=user_id, status="open",
                           amount=paywall.topup_amount, created_at=now)
    state.topups[session.id] = session
    emit(state, paywall, "paywall.balance.topup.link.created", now=now, subject=("paywall.balance", session.id),
         user_id=user_id, source="api", actor=actor,
         facts={"wallet_user_id": user_id, "redirect_url": links.topup(session.id), "checkout_session_id": session.id})
    return session


# --- shared-mode authorization --------------------------------------------------------------------


def connection(state: PaywallsState, paywall: Paywall, user_id: str) -> Connection | None:
    """The user's authorization of the paywall; default mode needs none, so it is implied there."""
    found = state.connections.get((paywall.id, user_id))
    if found is None and paywall.mode == "default":
        return Connection(id=f"conn_{paywall.id}_{user_id}", paywall_id=paywall.id, user_id=user_id,
                          wallet_user_id=user_id, created_at=state.loaded_at)
    return found


def request_authorization(state: PaywallsState, paywall: Paywall, user_id: str, *, now: datetime,
                          links: Links) -> AuthorizationRequest:
    """The user's open request for this paywall, or a new one (`paywall.authorization.requested`)."""
    for request in state.authorizations.values():
        if request.paywall_id == paywall.id and request.user_id == user_id and request.status == "open":
            return request
    request = AuthorizationRequest(id=state.new_id("auth"), paywall_id=paywall.id, user_id=user_id,
                                   status="open", created_at=now)
    state.authorizations[request.id] = request
    emit(state, paywall, "paywall.authorization.requested", now=now, subject=("paywall.authorization", request.id),
         user_id=user_id, source="authorization",
         facts={"external_user_id": user_id, "wallet_user_id": user_id, "request_id": request.id,
                "approval_url": links.authorize(request.id), "mode": paywall.mode})
    return request


def connect_status(state: PaywallsState, paywall: Paywall, user_id: str, *, now: datetime,
                   links: Links) -> Connection | str:
    """The user's connection, or the URL of the (open or new) authorization request to approve."""
    found = connection(state, paywall, user_id)
    if found is not None:
        return found
    return links.authorize(request_authorization(state, paywall, user_id, now=now, links=links).id)


def require_request(state: PaywallsState, request_id: str) -> AuthorizationRequest:
    found = state.authorizations.get(request_id)
    if found is None:
        raise NotFoundError(f"No authorization request {request_id!r}", code="not_found")
    return found


def decide(state: PaywallsState, request_id: str, *, approve: bool, now: datetime) -> AuthorizationRequest:
    """Approve (connect the user) or decline an open request."""
    request = require_request(state, request_id)
    if request.status != "open":
        raise ConflictError(f"This authorization request was already {request.status}", code="conflict")
    paywall = state.paywalls[request.paywall_id]
    actor = ("end-user", request.user_id)
    subject = ("paywall.authorization", request.id)
    if approve:
        request.status = "approved"
        made = Connection(id=state.new_id("conn"), paywall_id=paywall.id, user_id=request.user_id,
                          wallet_user_id=request.user_id, created_at=now)
        state.connections[(paywall.id, request.user_id)] = made
        emit(state, paywall, "paywall.authorization.completed", now=now, subject=subject, user_id=request.user_id,
             source="authorization", actor=actor,
             facts={"external_user_id": request.user_id, "wallet_user_id": request.user_id,
                    "connection_id": made.id})
    else:
        request.status = "declined"
        emit(state, paywall, "paywall.authorization.declined", now=now, subject=subject, user_id=request.user_id,
             source="authorization", actor=actor,
             facts={"external_user_id": request.user_id, "wallet_user_id": request.user_id,
                    "request_id": request.id, "reason": "declined_by_user"})
    return request


def disconnect(state: PaywallsState, paywall: Paywall, user_id: str, *, now: datetime) -> bool:
    """Revoke a shared-mode authorization; False when there was none (always in default mode)."""
    made = state.connections.pop((paywall.id, user_id), None)
    if made is None:
        return False
    emit(state, paywall, "paywall.authorization.revoked", now=now, subject=("paywall.authorization", made.id),
         user_id=user_id, source="api", facts={"external_user_id": user_id, "wallet_user_id": user_id})
    return True
