"""OAuth sign-in through the emulator's fake provider, with PKCE: `oauth/init` opens a flow, the
provider page (a person or a test) picks an identity or an error, the callback page hands the code
to the SDK's window, and `oauth/exchange` checks the verifier against the challenge.

Rules: the challenge is base64url(SHA-256(verifier)) without padding (method `s256`); a code works
once, for 5 minutes; a flow started with a Bearer links the identity to that user (an anonymous
user keeps its id and becomes a named one), unless the identity belongs to another user
(`identity_already_exists`, in the callback's fragment as the provider would send it); without a
Bearer the identity signs in its owner, the user of its e-mail, or a new user. No aiohttp.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from ....engine.structs import struct
from ..errors import BadRequestError, ConflictError, NotFoundError
from ..models import Paywall, User
from ..models_auth import OAuthFlow, OAuthIdentity
from ..state import Store
from . import accounts, mailbox

CODE_TTL = timedelta(minutes=5)
FLOW_TTL = timedelta(minutes=10)  # the SDK forgets a pending flow after 10 minutes
Decision = Literal["approve", "cancel", "identity_already_exists"]


@struct(frozen=True, kw_only=True)
class ProviderChoice:
    action: Decision
    name: str | None = None
    email: str | None = None
    avatar: str | None = None


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def start(store: Store, now: datetime, paywall: Paywall, *, provider: str, code_challenge: str, scopes: str | None,
          origin: str, link_user: User | None) -> OAuthFlow:
    flow = OAuthFlow(id=f"oaf_{store.ids.alnum(24)}", paywall_id=paywall.id, provider=provider,
                     code_challenge=code_challenge, scopes=scopes, callback_url=f"{origin}/paywall/v3/auth/callback",
                     link_user_id=link_user.id if link_user is not None else None, created_at=now)
    store.auth.oauth_flows[flow.id] = flow
    return flow


def require_flow(store: Store, now: datetime, flow_id: str) -> OAuthFlow:
    flow = store.auth.oauth_flows.get(flow_id)
    if flow is None:
        raise NotFoundError(f"no OAuth flow {flow_id!r}", code="not_found")
    if flow.status == "pending" and now - flow.created_at > FLOW_TTL:
        flow.status = "failed"
    return flow


def suggested_identity(store: Store, flow: OAuthFlow) -> OAuthIdentity:
    """What the provider page proposes: the linked user's address if any, else a stock test person."""
    user = store.users.get(flow.link_user_id or "")
    email = user.email if user is not None and user.email else f"{flow.provider}.user@example.com"
    return OAuthIdentity(provider=flow.provider, subject=mailbox.normal(email), email=email,
                         name=f"{flow.provider.capitalize()} Test User",
                         avatar=f"https://avatars.example.com/{flow.provider}/{mailbox.normal(email)}.png")


def _error_url(flow: OAuthFlow, error: str, description: str, error_code: str | None = None) -> str:
    fields = {"error": error, **({"error_code": error_code} if error_code else {}), "error_description": description}
    return f"{flow.callback_url}#{urlencode(fields)}"


def _belongs_elsewhere(store: Store, flow: OAuthFlow, identity: OAuthIdentity) -> bool:
    owner = store.auth.identity_owners.get((identity.provider, identity.subject))
    if owner is not None and owner != flow.link_user_id:
        return True
    return accounts.email_taken(store, identity.email, by_other_than=flow.link_user_id)


def decide(store: Store, now: datetime, flow_id: str, choice: ProviderChoice) -> str:
    """The provider page's answer: the callback URL with a code, or with the error in its fragment."""
    flow = require_flow(store, now, flow_id)
    if flow.status != "pending":
        raise ConflictError("This sign-in was already answered or has expired; start again", code="conflict")
    if choice.action == "approve" and (not choice.email or "@" not in choice.email):
        raise BadRequestError("The identity needs an e-mail address", code="invalid_email")
    flow.status = "failed"
    if choice.action == "cancel":
        return _error_url(flow, "access_denied", "The user cancelled the sign-in at the provider")
    identity = OAuthIdentity(provider=flow.provider, subject=mailbox.normal(choice.email or ""),
                             email=(choice.email or "").strip(), name=choice.name or None,
                             avatar=choice.avatar or None)
    if choice.action == "identity_already_exists" or (flow.link_user_id and _belongs_elsewhere(store, flow, identity)):
        return _error_url(flow, "server_error", "Identity is already linked to another user",
                          "identity_already_exists")
    flow.status, flow.identity, flow.authorized_at = "authorized", identity, now
    flow.auth_code = store.ids.alnum(32)
    store.auth.oauth_codes[flow.auth_code] = flow.id
    return f"{flow.callback_url}?{urlencode({'code': flow.auth_code})}"


def exchange(store: Store, now: datetime, paywall: Paywall, *, auth_code: str, code_verifier: str,
             visitor_id: str | None, user_meta: dict[str, Any] | None) -> accounts.SignedIn:
    flow = store.auth.oauth_flows.get(store.auth.oauth_codes.get(auth_code, ""))
    if flow is None or flow.status != "authorized" or flow.paywall_id != paywall.id or flow.identity is None:
        raise BadRequestError("Unknown or used authorization code", code="flow_state_not_found",
                              error="flow_state_not_found")
    if flow.authorized_at is not None and now - flow.authorized_at > CODE_TTL:
        raise BadRequestError("The authorization code has expired; sign in again", code="flow_state_expired",
                              error="flow_state_expired")
    if challenge_of(code_verifier) != flow.code_challenge:
        raise BadRequestError("code_verifier does not match the code_challenge", code="bad_code_verifier",
                              error="bad_code_verifier")
    flow.status = "exchanged"
    del store.auth.oauth_codes[auth_code]
    user = _user_for(store, now, flow, flow.identity)
    account = accounts.account_of(store, now, user)
    store.auth.link_identity(account, flow.identity.provider, flow.identity.subject)
    account.avatar = flow.identity.avatar or account.avatar
    user.name = user.name or flow.identity.name
    if account.anonymous:  # linked: the anonymous user becomes the identity's person, same id
        accounts.adopt_email(store, user, account, flow.identity.email)
    account.confirmed = account.confirmed or user.email is not None
    return accounts.sign_in(store, now, paywall, user, account, visitor_id=visitor_id, user_meta=user_meta)


def _user_for(store: Store, now: datetime, flow: OAuthFlow, identity: OAuthIdentity) -> User:
    if flow.link_user_id is not None and flow.link_user_id in store.users:
        return store.users[flow.link_user_id]
    owner = store.auth.identity_owners.get((identity.provider, identity.subject))
    if owner is not None and owner in store.users:
        return store.users[owner]
    return store.user_by_email(identity.email) or accounts.new_user(store, now, identity.email, identity.name)
