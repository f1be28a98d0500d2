"""Who a request is about: finding users by email or user_id on a paywall, and linking them.

Rules: a user is found by the platform user id, by email, or by the integrator's stable id stored
in the link's `userMeta.userId`; "not in our system" (`identity_not_found`) and "exists but never
touched this paywall" (`identity_not_on_paywall`) are different 404s. A user becomes linked by
start-checkout, the portal or a credit. No aiohttp.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ....engine.structs import struct
from ..errors import IdentityNotFoundError, IdentityNotOnPaywallError, IdentityRequiredError, NotFoundError
from ..models import BalanceRow, Link, Paywall, User
from ..state import Store
from .periods import local_date

# The one rule for an e-mail address everywhere in this API: the HTML living standard's "valid e-mail
# address" with a dotted domain, no spaces. The spec's email fields carry the same pattern (a test keeps
# the two equal); ticket's customer_email, ignored with a Bearer, is checked here when it is used.
EMAIL_PATTERN = (r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                 r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_EMAIL = re.compile(EMAIL_PATTERN)


def is_email(value: str) -> bool:
    return _EMAIL.fullmatch(value) is not None


def find_user(store: Store, paywall: Paywall, *, email: str | None, user_id: str | None) -> User | None:
    """The user named by `user_id` (platform id or this paywall's external id) and/or `email`.

    With both, they must not name two different users (`identity_not_found`); a `user_id` that
    names nobody is ignored in favour of the email, since the SDK sends the integrator's own id.
    """
    by_id = _by_user_id(store, paywall, user_id) if user_id else None
    by_email = store.user_by_email(email) if email else None
    if by_id is not None and by_email is not None and by_id.id != by_email.id:
        raise IdentityNotFoundError(error="identity_not_found",
                                    message="email and user_id name two different users")
    return by_id or by_email


def _by_user_id(store: Store, paywall: Paywall, user_id: str) -> User | None:
    user = store.users.get(user_id)
    if user is not None:
        return user
    return store.user_by_external_id(paywall.id, user_id)


def require_identity(email: str | None, user_id: str | None) -> None:
    if not (email or user_id):
        raise IdentityRequiredError(error="identity_required")


def require_linked_user(store: Store, paywall: Paywall, *, email: str | None, user_id: str | None,
                        unlinked_code: str = "identity_not_on_paywall") -> User:
    """A user linked to `paywall`, or the documented 400/404."""
    require_identity(email, user_id)
    user = find_user(store, paywall, email=email, user_id=user_id)
    if user is None:
        raise IdentityNotFoundError(error="identity_not_found")
    if store.link(user.id, paywall.id) is None:
        if unlinked_code == "identity_not_found":
            raise IdentityNotFoundError(error="identity_not_found",
                                        message="No user with that email/user_id is linked to this paywall")
        raise IdentityNotOnPaywallError(error="identity_not_on_paywall")
    return user


@struct(frozen=True, kw_only=True)
class Reader:
    """Who a read is about: `user` when known; `named` when the request named anyone at all (a
    session or an identity), so a guest (`named=False`) differs from an unknown e-mail."""

    user: User | None
    named: bool


def find_reader(store: Store, paywall: Paywall, *, session_user: User | None, email: str | None,
                linked_only: bool = False) -> Reader:
    """The user an SDK read is about: the session's (Bearer) user wins over the `X-User-Email`
    identity. With `linked_only`, an identity that never touched this paywall reads as nobody."""
    user = session_user or find_user(store, paywall, email=email, user_id=None)
    if linked_only and user is not None and store.link(user.id, paywall.id) is None:
        user = None
    return Reader(user=user, named=session_user is not None or bool(email))


def require_reader(store: Store, paywall: Paywall, *, session_user: User | None, email: str | None,
                   user_id: str | None) -> User:
    """The user a detailed read is about, linked to the paywall: the session's user (else
    `identity_not_on_paywall`), or without a session the one the owner names (`require_linked_user`)."""
    if session_user is None:
        return require_linked_user(store, paywall, email=email, user_id=user_id)
    if store.link(session_user.id, paywall.id) is None:
        raise IdentityNotOnPaywallError(error="identity_not_on_paywall")
    return session_user


def find_or_create_user(store: Store, now: datetime, *, email: str, name: str | None = None) -> User:
    user = store.user_by_email(email)
    if user is None:
        user = store.add_user(User(id=store.ids.uuid(), email=email.strip(), name=name, created_at=now))
    return user


def ensure_link(store: Store, now: datetime, user: User, paywall: Paywall,
                meta: dict[str, Any] | None = None) -> Link:
    """Link `user` to `paywall` (idempotent); a new link on a tokenized paywall starts at the
    daily-trial allowance of each token type."""
    link = store.link(user.id, paywall.id)
    if link is None:
        link = Link(user_id=user.id, paywall_id=paywall.id, linked_at=now)
        store.add_link(link)
        today = local_date(now, paywall.timezone).isoformat()
        for ttype in paywall.token_types:
            store.add_balance(BalanceRow(user_id=user.id, paywall_id=paywall.id, type=ttype.type,
                                         count=ttype.daily_trial, topped_up_on=today))
    if meta:
        link.meta.update(meta)
        store.index_link_meta(link)
    return link


def enrol_for_token(store: Store, now: datetime, *, paywall_id: str, email: str | None,
                    user_id: str | None) -> User:
    """The user a control-API token is minted for: found by `email`/`user_id`, else created from the
    e-mail, and linked to the paywall. The control API speaks only `not_found` (404)."""
    paywall = store.paywalls.get(paywall_id)
    if paywall is None:
        raise NotFoundError(f"paywall {paywall_id!r} not found")
    try:
        user = find_user(store, paywall, email=email, user_id=user_id)
    except IdentityNotFoundError as exc:
        raise NotFoundError(exc.message, code="not_found") from exc
    if user is None:
        if not email:
            raise NotFoundError(f"no user {user_id!r}; give an email to create one", code="not_found")
        user = find_or_create_user(store, now, email=email)
    ensure_link(store, now, user, paywall)
    return user
