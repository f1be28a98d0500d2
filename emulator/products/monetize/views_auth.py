"""Wire shapes of sign-in (`/auth/*`, spec tag `auth`) and of the control API's mailbox: token sets,
the SDK's `AuthUser`, the sign-up and upgrade variants. Field names follow the spec. No aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ...engine.timestamps import iso
from .domain.accounts import SignedIn, SignUp, Upgrade
from .domain.sessions import Issued
from .models import User
from .models_auth import Account, MailMessage, OAuthFlow


def render_token_set(issued: Issued, now: datetime) -> dict[str, Any]:
    expires_at = issued.access.expires_at
    return {"access_token": issued.access.token, "refresh_token": issued.refresh.token,
            "expires_in": int((expires_at - now).total_seconds()), "expires_at": int(expires_at.timestamp()),
            "token_type": "bearer"}


def render_auth_user(user: User, account: Account) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "country": user.country, "name": user.name,
            "avatar": account.avatar, "is_anonymous": account.anonymous}


def render_signed_in(signed: SignedIn, now: datetime) -> dict[str, Any]:
    return {**render_token_set(signed.issued, now), "user": render_auth_user(signed.user, signed.account)}


def render_sign_up(outcome: SignUp, now: datetime) -> dict[str, Any]:
    if outcome.signed_in is not None:
        return {"status": "signed_in", **render_signed_in(outcome.signed_in, now)}
    if outcome.status == "confirmation_required" and outcome.user is not None:
        return {"status": "confirmation_required", "user": {"id": outcome.user.id, "email": outcome.user.email}}
    return {"status": "already_registered", "email": outcome.email}


def render_upgrade(outcome: Upgrade) -> dict[str, Any]:
    if outcome.status == "updated":
        return {"status": "updated", "user": render_auth_user(outcome.user, outcome.account)}
    return {"status": "confirmation_required", "email": outcome.email}


def render_ok() -> dict[str, Any]:
    return {"ok": True}


def render_password_updated(user: User) -> dict[str, Any]:
    return {"ok": True, "user": {"id": user.id, "email": user.email}}


def render_oauth_init(flow: OAuthFlow, origin: str) -> dict[str, Any]:
    return {"authorize_url": f"{origin}/_emulator/oauth/authorize?flow={flow.id}"}


def render_mailbox(messages: Iterable[MailMessage]) -> dict[str, Any]:
    return {"messages": [
        {"id": m.id, "to": m.to, "paywall_id": m.paywall_id, "kind": m.kind, "subject": m.subject, "text": m.text,
         "code": m.code, "link": m.link, "sent_at": iso(m.sent_at)}
        for m in messages]}
