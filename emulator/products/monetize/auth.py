"""Who is calling: resolving `X-Api-Key` and `Authorization: Bearer` into a `Principal`, and the
paywall-ownership rule. Owns the order of the key checks (401 bad/missing credentials, then 404
unknown paywall, then 403 another owner's paywall) and the product's `authenticate` hook, whose
`Caller` handlers read back with `caller(call)`. No aiohttp: headers come in as a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ...engine.openapi import Operation
from ...engine.structs import struct
from .errors import (
    EmulatorError,
    InvalidApiKeyError,
    InvalidTokenError,
    NotOwnerError,
    PaywallNotFoundError,
    UnauthorizedError,
)
from .models import AccessToken, Paywall, User
from .state import Store

if TYPE_CHECKING:
    from ...engine.routing import Call

TOKEN_TTL = timedelta(hours=1)  # access tokens live 1 h (SESS docs)


@struct(frozen=True)
class Principal:
    kind: Literal["guest", "owner", "user"]
    owner_id: str | None = None
    user_id: str | None = None  # the Bearer user (may accompany an owner key)

    @property
    def is_owner(self) -> bool:
        return self.kind == "owner"


GUEST = Principal(kind="guest")


def authenticate(store: Store, now: datetime, op: Operation, headers: Mapping[str, str]) -> Principal:
    """Resolve the caller. Credentials the operation does not accept are ignored, not refused."""
    owner_id: str | None = None
    user_id: str | None = None
    key = headers.get("X-Api-Key")
    if key is not None and op.allows("ApiKeyAuth"):
        owner_id = store.api_keys.get(key.strip())
        if owner_id is None:
            raise InvalidApiKeyError(error="Invalid API key")
    auth = headers.get("Authorization")
    if auth is not None and op.allows("BearerAuth"):
        user_id = resolve_bearer(store, now, auth).id
    if owner_id is not None:
        return Principal(kind="owner", owner_id=owner_id, user_id=user_id)
    if user_id is not None:
        return Principal(kind="user", user_id=user_id)
    if not op.public:
        raise missing_credentials(op)
    return GUEST


def missing_credentials(op: Operation) -> EmulatorError:
    spec: dict[str, Any] = op.extension("x-auth-missing") or {}
    default = "Send X-Api-Key" if not op.allows("BearerAuth") else (
        "Send Authorization: Bearer <token>" if not op.allows("ApiKeyAuth") else
        "Send X-Api-Key or Authorization: Bearer <token>")
    return UnauthorizedError(
        str(spec.get("message") or default),
        code=str(spec.get("code") or "unauthorized"),
        error=str(spec.get("error") or spec.get("code") or "unauthorized"),
        status=int(spec.get("status") or 401),
    )


def resolve_bearer(store: Store, now: datetime, header: str) -> User:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError(error="invalid_token", message="Authorization must be 'Bearer <token>'")
    record = store.tokens.get(token.strip())
    if record is None or record.expires_at <= now:
        raise InvalidTokenError(error="invalid_token")
    user = store.users.get(record.user_id)
    if user is None:
        raise InvalidTokenError(error="invalid_token", message="The token's user no longer exists")
    return user


def mint_token(store: Store, now: datetime, user: User) -> AccessToken:
    token = AccessToken(token=f"emu_at_{store.ids.token(24)}", user_id=user.id, expires_at=now + TOKEN_TTL)
    store.tokens[token.token] = token
    return token


def require_paywall(store: Store, principal: Principal, paywall_id: str, *,
                    not_owner: EmulatorError | None = None) -> Paywall:
    """The paywall, checked against the caller: unknown → 404; an owner key of another owner → 403."""
    paywall = store.paywalls.get(str(paywall_id))
    if paywall is None:
        raise PaywallNotFoundError()
    if principal.is_owner and paywall.owner_id != principal.owner_id:
        raise not_owner or NotOwnerError(error="Access denied: API key owner does not match paywall owner")
    return paywall


@struct(frozen=True)
class Caller:
    """Who called a public operation and on which paywall (`{id}` operations only)."""

    principal: Principal
    paywall: Paywall | None
    bearer_user: User | None  # the Bearer's user on the Bearer path (with an owner key it is the apiKey path)

    def require_paywall(self) -> Paywall:
        if self.paywall is None:  # only operations without {id} lack one; a wiring bug
            raise EmulatorError("this operation has no paywall in its path", status=500, code="internal_error")
        return self.paywall


def authenticate_call(call: Call) -> Caller:
    """The product's `authenticate` hook: credentials first, then the `{id}` paywall and its owner."""
    store: Store = call.state
    principal = authenticate(store, call.world.now(), call.op, call.request.headers)
    paywall_id = call.path.get("id")
    paywall = require_paywall(store, principal, paywall_id) if paywall_id is not None else None
    bearer = None if principal.is_owner or principal.user_id is None else store.users[principal.user_id]
    return Caller(principal=principal, paywall=paywall, bearer_user=bearer)


def caller(call: Call) -> Caller:
    """The `Caller` the pipeline resolved for this call."""
    found: Caller = call.auth
    return found
