"""Entities of sign-in (the SDK's `AuthClient` routes): accounts, sessions and their refresh tokens,
one-time codes, the emulated mailbox and OAuth flows, kept in `Store.auth` (`AuthTables`, which also
keeps the lookups by address, identity and user). No rules: those live in `domain/accounts.py`,
`domain/sessions.py`, `domain/mailbox.py` and `domain/oauth.py`. Imports no aiohttp.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any, Literal

from ...engine.structs import struct

# What a one-time code proves: a sign-up's address, an OTP/magic-link sign-in, a password reset, or
# the new address of an anonymous upgrade. `invite` codes exist in the SDK's vocabulary only.
CodePurpose = Literal["signup", "email", "recovery", "email_change", "invite"]
MailKind = Literal["signup_confirmation", "sign_in_code", "password_recovery", "email_change"]
OAuthStatus = Literal["pending", "authorized", "failed", "exchanged"]


@struct(kw_only=True)
class Account:
    """The sign-in side of a `User` (a user bought as a guest has none until they sign up)."""

    user_id: str
    password_hash: str | None = None
    confirmed: bool = False  # the e-mail address is proven (link, code, or confirmation off)
    anonymous: bool = False
    pending_email: str | None = None  # an anonymous upgrade waiting for its confirmation link
    avatar: str | None = None
    identities: dict[str, str] = field(default_factory=dict)  # OAuth provider -> provider subject
    user_meta: dict[str, Any] = field(default_factory=dict)
    created_at: datetime
    last_sign_in_at: datetime | None = None


@struct(kw_only=True)
class AuthSession:
    """One sign-in: its access tokens (1 h each) and a chain of refresh tokens, one live at a time."""

    id: str
    user_id: str
    paywall_id: str
    created_at: datetime
    recovery: bool = False  # opened by a password-recovery code
    ended: bool = False  # signed out, revoked, or a reused refresh token was seen
    access_tokens: list[str] = field(default_factory=list)


@struct(kw_only=True)
class RefreshToken:
    token: str
    session_id: str
    user_id: str
    issued_at: datetime
    used: bool = False  # rotated: presenting it again is a reuse


@struct(kw_only=True)
class OneTimeCode:
    """A 6-digit code and the link token sent with it; a newer code for the same address and purpose
    supersedes it."""

    email: str  # lower-cased
    purpose: CodePurpose
    code: str
    link_token: str
    user_id: str
    paywall_id: str
    created_at: datetime
    expires_at: datetime
    used: bool = False
    superseded: bool = False


@struct(kw_only=True)
class MailMessage:
    """A message the emulator would have e-mailed, kept in the world's mailbox instead."""

    id: str
    to: str
    paywall_id: str
    kind: MailKind
    subject: str
    text: str
    code: str | None
    link: str | None
    sent_at: datetime


@struct(kw_only=True)
class OAuthIdentity:
    """What the fake provider says about the person who signed in."""

    provider: str
    subject: str
    email: str
    name: str | None
    avatar: str | None


@struct(kw_only=True)
class OAuthFlow:
    """One `oauth/init` → provider page → callback → `oauth/exchange` round trip (PKCE)."""

    id: str
    paywall_id: str
    provider: str
    code_challenge: str
    scopes: str | None
    callback_url: str  # <origin the init arrived on>/paywall/v3/auth/callback
    link_user_id: str | None  # init came with a Bearer: link the identity to that user
    created_at: datetime
    status: OAuthStatus = "pending"
    auth_code: str | None = None
    authorized_at: datetime | None = None
    identity: OAuthIdentity | None = None


@struct(kw_only=True)
class AuthRequestKey:
    """A sign-up or resend made under an `Idempotency-Key`: a repeat of it answers as the first did."""

    scope: str  # route, paywall and key
    fingerprint: str  # of the body: the same key with another body is refused
    created_at: datetime


@struct
class AuthTables:
    accounts: dict[str, Account] = field(default_factory=dict)  # user id -> account
    sessions: dict[str, AuthSession] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    access_sessions: dict[str, str] = field(default_factory=dict)  # access token -> session id
    codes: list[OneTimeCode] = field(default_factory=list)
    mailbox: list[MailMessage] = field(default_factory=list)  # oldest first
    oauth_flows: dict[str, OAuthFlow] = field(default_factory=dict)
    oauth_codes: dict[str, str] = field(default_factory=dict)  # auth code -> flow id
    idempotency: dict[str, AuthRequestKey] = field(default_factory=dict)  # scope -> record, oldest first
    # Lookups derived from the tables above (never saved; `reindex` rebuilds them on construction and a
    # restore), kept by the methods below, so no sign-in call scans every account, session or code.
    codes_by_email: dict[str, list[OneTimeCode]] = field(default_factory=dict, metadata={"transient": True})
    codes_by_link: dict[str, OneTimeCode] = field(default_factory=dict, metadata={"transient": True})
    pending_emails: dict[str, str] = field(default_factory=dict, metadata={"transient": True})  # -> user id
    identity_owners: dict[tuple[str, str], str] = field(default_factory=dict,  # (provider, subject) -> user
                                                        metadata={"transient": True})
    sessions_by_user: dict[str, list[str]] = field(default_factory=dict, metadata={"transient": True})

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.codes_by_email, self.codes_by_link, self.pending_emails = {}, {}, {}
        self.identity_owners, self.sessions_by_user = {}, {}
        for code in self.codes:
            self._index_code(code)
        for account in self.accounts.values():
            if account.pending_email is not None:
                self.pending_emails.setdefault(account.pending_email, account.user_id)
            for provider, subject in account.identities.items():
                self.identity_owners.setdefault((provider, subject), account.user_id)
        for session in self.sessions.values():
            self.sessions_by_user.setdefault(session.user_id, []).append(session.id)

    def _index_code(self, code: OneTimeCode) -> None:
        self.codes_by_email.setdefault(code.email, []).append(code)
        self.codes_by_link[code.link_token] = code

    def add_code(self, code: OneTimeCode) -> None:
        self.codes.append(code)
        self._index_code(code)

    def add_session(self, session: AuthSession) -> None:
        self.sessions[session.id] = session
        self.sessions_by_user.setdefault(session.user_id, []).append(session.id)

    def set_pending(self, account: Account, email: str | None) -> None:
        """`account` waits for `email` (normalised) to be confirmed, or (None) for nothing."""
        if account.pending_email is not None and self.pending_emails.get(account.pending_email) == account.user_id:
            del self.pending_emails[account.pending_email]
        account.pending_email = email
        if email is not None:
            self.pending_emails.setdefault(email, account.user_id)

    def link_identity(self, account: Account, provider: str, subject: str) -> None:
        old = account.identities.get(provider)
        if old is not None and self.identity_owners.get((provider, old)) == account.user_id:
            del self.identity_owners[(provider, old)]
        account.identities[provider] = subject
        self.identity_owners.setdefault((provider, subject), account.user_id)
