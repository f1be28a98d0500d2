"""Sign-in sessions and their token sets, on the emulator clock.

Rules: an access token lives 1 h and is an opaque Bearer every data route accepts (`Store.tokens`);
a refresh token works once: `refresh` rotates it, and presenting a used one again (a reuse) or one of
an ended session is 401 `invalid_refresh_token`, and a reuse also ends its session. Sign-out ends the
session of the Bearer it was called with (its access tokens stop working at once); revoke-all ends
every session of the user for refreshing, while issued access tokens live out their hour. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ....engine.structs import struct
from ..errors import UnauthorizedError
from ..models import AccessToken, Paywall, User
from ..models_auth import AuthSession, RefreshToken
from ..state import Store

ACCESS_TOKEN_TTL = timedelta(hours=1)  # GoTrue's default, which the SDK's 60 s refresh leeway assumes


@struct(frozen=True, kw_only=True)
class Issued:
    """A token set just issued: what sign-in and refresh answer."""

    access: AccessToken
    refresh: RefreshToken
    session: AuthSession


def new_access_token(store: Store, now: datetime, user: User) -> AccessToken:
    token = AccessToken(token=f"emu_at_{store.ids.token(24)}", user_id=user.id, expires_at=now + ACCESS_TOKEN_TTL)
    store.tokens[token.token] = token
    return token


def _issue(store: Store, now: datetime, session: AuthSession, user: User) -> Issued:
    access = new_access_token(store, now, user)
    session.access_tokens.append(access.token)
    store.auth.access_sessions[access.token] = session.id
    refresh = RefreshToken(token=f"emu_rt_{store.ids.alnum(32)}", session_id=session.id, user_id=user.id,
                           issued_at=now)
    store.auth.refresh_tokens[refresh.token] = refresh
    return Issued(access=access, refresh=refresh, session=session)


def open_session(store: Store, now: datetime, user: User, paywall: Paywall, *, recovery: bool = False) -> Issued:
    session = AuthSession(id=f"sess_{store.ids.alnum(20)}", user_id=user.id, paywall_id=paywall.id,
                          created_at=now, recovery=recovery)
    store.auth.add_session(session)
    return _issue(store, now, session, user)


def _refused() -> UnauthorizedError:
    return UnauthorizedError("The refresh token is invalid, was already used, or its session ended",
                             code="invalid_refresh_token", error="refresh_failed")


def refresh(store: Store, now: datetime, token: str) -> Issued:
    """A new token set for a live refresh token, which is used up (rotation)."""
    record = store.auth.refresh_tokens.get(token.strip())
    session = store.auth.sessions.get(record.session_id) if record is not None else None
    user = store.users.get(record.user_id) if record is not None else None
    if record is None or session is None or user is None or session.ended:
        raise _refused()
    if record.used:  # a copy of a rotated token: treat the session as leaked
        session.ended = True
        raise _refused()
    record.used = True
    return _issue(store, now, session, user)


def sign_out(store: Store, access_token: str) -> None:
    """End the session the Bearer belongs to; its access tokens stop working now. A token minted by
    the control API has no session: only that token stops working."""
    session = store.auth.sessions.get(store.auth.access_sessions.get(access_token, ""))
    tokens = session.access_tokens if session is not None else [access_token]
    for token in tokens:
        store.tokens.pop(token, None)
    if session is not None:
        session.ended = True


def revoke_all(store: Store, user: User) -> int:
    """End every session of `user` for refreshing; answers how many were still live."""
    sessions = (store.auth.sessions[i] for i in store.auth.sessions_by_user.get(user.id, ()))
    live = [s for s in sessions if not s.ended]
    for session in live:
        session.ended = True
    return len(live)
