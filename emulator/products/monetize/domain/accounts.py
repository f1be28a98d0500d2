"""Accounts: e-mail/password sign-up and sign-in, e-mail codes, password changes, anonymous users and
their upgrade, and moving a visitor's guest purchases to the user who signs in.

Rules: passwords have at least 6 and at most 72 characters (`weak_password`, 422); a wrong e-mail or
password is one answer (`invalid_credentials`), an unconfirmed address another (`email_not_confirmed`);
with the paywall's e-mail confirmation on, sign-up and upgrade wait for the e-mailed link or code, off
they sign in at once and an address in use is `email_exists`; anonymous sign-in needs the paywall's
`settings.allow_anonymous` (`anonymous_disabled`, 403); an upgrade keeps the user id, so purchases and
balances stay. Every sign-in links the user to the paywall. Everything is checked before anything is
written. No aiohttp.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from ....engine.structs import struct
from ..errors import BadRequestError, EmulatorError, ForbiddenError, UnauthorizedError
from ..models import Paywall, User
from ..models_auth import Account, AuthRequestKey
from ..state import Store
from . import mailbox, sessions
from .balances import move_grants
from .idempotency import fingerprint_of, keep, replayed
from .identity import ensure_link

MIN_PASSWORD = 6  # GoTrue's default minimum
MAX_PASSWORD = 72  # bcrypt reads no further
MIN_VISITOR_ID = 16  # the SDK sends shorter (or no) visitor ids never


@struct(frozen=True, kw_only=True)
class SignedIn:
    user: User
    account: Account
    issued: sessions.Issued


@struct(frozen=True, kw_only=True)
class SignUp:
    status: Literal["confirmation_required", "already_registered", "signed_in"]
    email: str
    user: User | None = None
    signed_in: SignedIn | None = None


@struct(frozen=True, kw_only=True)
class Upgrade:
    status: Literal["updated", "confirmation_required"]
    email: str
    user: User
    account: Account


def password_hash(user_id: str, password: str) -> str:
    return hashlib.sha256(f"{user_id}:{password}".encode()).hexdigest()


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise EmulatorError(f"Password should be {MIN_PASSWORD} to {MAX_PASSWORD} characters long", status=422,
                            code="weak_password", error="weak_password")


def _email_exists() -> EmulatorError:
    return EmulatorError("A user with this e-mail address has already been registered", status=422,
                         code="email_exists", error="email_exists")


def account_of(store: Store, now: datetime, user: User) -> Account:
    """The user's account; a user who never signed in (a guest buyer, a control-API token) gets one."""
    account = store.auth.accounts.get(user.id)
    if account is None:
        account = store.auth.accounts[user.id] = Account(user_id=user.id, confirmed=bool(user.email),
                                                         created_at=now)
    return account


def new_user(store: Store, now: datetime, email: str | None, name: str | None = None) -> User:
    return store.add_user(User(id=store.ids.uuid(), email=email.strip() if email else None, name=name,
                               created_at=now))


def adopt_email(store: Store, user: User, account: Account, email: str) -> None:
    """An anonymous user takes a proven address (a linked OAuth identity) and stops being anonymous."""
    if not user.email and not email_taken(store, email, by_other_than=user.id):
        _set_email(store, user, email)
    account.anonymous = False
    store.auth.set_pending(account, None)


def _set_email(store: Store, user: User, email: str) -> None:
    if user.email:
        store.users_by_email.pop(mailbox.normal(user.email), None)
    user.email = email.strip()
    store.users_by_email[mailbox.normal(email)] = user.id


def email_taken(store: Store, email: str, *, by_other_than: str | None) -> bool:
    """Whether another user holds `email` or waits for its confirmation link."""
    holder = store.user_by_email(email)
    if holder is not None and holder.id != by_other_than:
        return True
    waiting = store.auth.pending_emails.get(mailbox.normal(email))
    return waiting is not None and waiting != by_other_than


def _waiting_for(store: Store, email: str) -> Account | None:
    """The account of an anonymous upgrade waiting for `email` to be confirmed."""
    user_id = store.auth.pending_emails.get(mailbox.normal(email))
    return store.auth.accounts.get(user_id) if user_id is not None else None


def sign_in(store: Store, now: datetime, paywall: Paywall, user: User, account: Account, *,
            visitor_id: str | None, user_meta: dict[str, Any] | None, recovery: bool = False) -> SignedIn:
    """Open a session for a checked user: link them to the paywall, keep `user_meta`, take over the
    visitor's guest purchases."""
    ensure_link(store, now, user, paywall)
    if user_meta:
        account.user_meta.update(user_meta)
    account.last_sign_in_at = now
    reattribute(store, now, paywall, user, visitor_id)
    return SignedIn(user=user, account=account, issued=sessions.open_session(store, now, user, paywall,
                                                                             recovery=recovery))


def _repeated(store: Store, now: datetime, scope: str | None, fingerprint: str) -> bool:
    """Whether this call repeats one made under the same `Idempotency-Key` within 24 h (409 for the same
    key with another body)."""
    return scope is not None and replayed(store.auth.idempotency, scope, now, fingerprint) is not None


def _remember(store: Store, now: datetime, scope: str | None, fingerprint: str) -> None:
    if scope:
        keep(store.auth.idempotency, scope, AuthRequestKey(scope=scope, fingerprint=fingerprint, created_at=now), now)


def sign_up(store: Store, now: datetime, paywall: Paywall, *, email: str, password: str, visitor_id: str | None,
            user_meta: dict[str, Any] | None, origin: str, idempotency_key: str | None = None) -> SignUp:
    """Sign up; a repeat under the same `Idempotency-Key` (a double click) answers as the first did, so a
    sign-up that signed in signs in again instead of answering `email_exists`."""
    scope = f"signup:{paywall.id}:{idempotency_key}" if idempotency_key else None
    fingerprint = fingerprint_of(mailbox.normal(email), password)
    repeat = _repeated(store, now, scope, fingerprint)
    outcome = _sign_up(store, now, paywall, email=email, password=password, visitor_id=visitor_id,
                       user_meta=user_meta, origin=origin, repeat=repeat)
    _remember(store, now, scope, fingerprint)
    return outcome


def _sign_up(store: Store, now: datetime, paywall: Paywall, *, email: str, password: str, visitor_id: str | None,
             user_meta: dict[str, Any] | None, origin: str, repeat: bool) -> SignUp:
    check_password(password)
    user = store.user_by_email(email)
    account = store.auth.accounts.get(user.id) if user is not None else None
    if user is not None and account is not None and (account.password_hash or account.identities
                                                      or account.confirmed):
        if not paywall.email_confirmation:
            if repeat and account.confirmed and account.password_hash == password_hash(user.id, password):
                signed = sign_in(store, now, paywall, user, account, visitor_id=visitor_id, user_meta=user_meta)
                return SignUp(status="signed_in", email=email, user=user, signed_in=signed)
            raise _email_exists()
        if account.confirmed:
            return SignUp(status="already_registered", email=email)
        _resend(store, now, paywall, user, "signup", origin)  # a repeated sign-up, still unconfirmed
        return SignUp(status="confirmation_required", email=email, user=user)
    if email_taken(store, email, by_other_than=user.id if user else None):
        raise _email_exists()
    user = user or new_user(store, now, email)  # a guest buyer of this address keeps their purchases
    account = account_of(store, now, user)
    account.password_hash, account.confirmed = password_hash(user.id, password), not paywall.email_confirmation
    if user_meta:
        account.user_meta.update(user_meta)
    ensure_link(store, now, user, paywall)
    if paywall.email_confirmation:
        mailbox.send_code(store, now, email=email, purpose="signup", user_id=user.id, paywall_id=paywall.id,
                          origin=origin, paywall_name=paywall.name)
        return SignUp(status="confirmation_required", email=email, user=user)
    signed = sign_in(store, now, paywall, user, account, visitor_id=visitor_id, user_meta=None)
    return SignUp(status="signed_in", email=email, user=user, signed_in=signed)


def _resend(store: Store, now: datetime, paywall: Paywall, user: User, purpose: Literal["signup", "email_change"],
            origin: str, email: str | None = None) -> None:
    """Send the confirmation again unless one went to the address within the last minute."""
    address = email or user.email or ""
    try:
        mailbox.check_send_rate(store, now, address, [purpose])
    except EmulatorError:
        return
    mailbox.send_code(store, now, email=address, purpose=purpose, user_id=user.id, paywall_id=paywall.id,
                      origin=origin, paywall_name=paywall.name)


def sign_in_with_password(store: Store, now: datetime, paywall: Paywall, *, email: str, password: str,
                          visitor_id: str | None, user_meta: dict[str, Any] | None) -> SignedIn:
    user = store.user_by_email(email)
    account = store.auth.accounts.get(user.id) if user is not None else None
    if user is None or account is None or account.password_hash != password_hash(user.id, password):
        pending = _waiting_for(store, email)
        if pending is not None and pending.password_hash == password_hash(pending.user_id, password):
            raise BadRequestError("Confirm the e-mail address first", code="email_not_confirmed",
                                  error="email_not_confirmed")
        raise BadRequestError("Invalid login credentials", code="invalid_credentials", error="invalid_credentials")
    if not account.confirmed:
        raise BadRequestError("Confirm the e-mail address first", code="email_not_confirmed",
                              error="email_not_confirmed")
    return sign_in(store, now, paywall, user, account, visitor_id=visitor_id, user_meta=user_meta)


def resend_confirmation(store: Store, now: datetime, paywall: Paywall, *, email: str, origin: str,
                        idempotency_key: str | None = None) -> None:
    """Send a waiting confirmation again (sign-up, or an anonymous upgrade's new address); 429 within a
    minute of the last one; any other address: nothing, and the same answer. A repeat under the same
    `Idempotency-Key` (a double click) answers ok again and sends nothing."""
    scope = f"resend:{paywall.id}:{idempotency_key}" if idempotency_key else None
    fingerprint = fingerprint_of(mailbox.normal(email))
    if _repeated(store, now, scope, fingerprint):
        return
    _resend_confirmation(store, now, paywall, email=email, origin=origin)
    _remember(store, now, scope, fingerprint)


def _resend_confirmation(store: Store, now: datetime, paywall: Paywall, *, email: str, origin: str) -> None:
    user = store.user_by_email(email)
    account = store.auth.accounts.get(user.id) if user is not None else None
    purpose: Literal["signup", "email_change"] = "signup"
    if account is None or account.confirmed:
        account = _waiting_for(store, email)
        user, purpose = (store.users.get(account.user_id) if account else None), "email_change"
    if user is None or account is None:
        return
    mailbox.check_send_rate(store, now, email, [purpose])
    mailbox.send_code(store, now, email=email, purpose=purpose, user_id=user.id, paywall_id=paywall.id,
                      origin=origin, paywall_name=paywall.name)


def send_sign_in_code(store: Store, now: datetime, paywall: Paywall, *, email: str, create_user: bool,
                      user_meta: dict[str, Any] | None, origin: str) -> None:
    """E-mail a sign-in code; with `create_user`, an unknown address gets a user first."""
    user = store.user_by_email(email)
    if user is None:
        if not create_user or email_taken(store, email, by_other_than=None):
            return
        user = new_user(store, now, email)
        store.auth.accounts[user.id] = Account(user_id=user.id, created_at=now)
    account = account_of(store, now, user)
    if user_meta:
        account.user_meta.update(user_meta)
    mailbox.send_code(store, now, email=email, purpose="email", user_id=user.id, paywall_id=paywall.id,
                      origin=origin, paywall_name=paywall.name)


def verify_code(store: Store, now: datetime, paywall: Paywall, *, email: str, token: str, type_: str,
                visitor_id: str | None, user_meta: dict[str, Any] | None) -> SignedIn:
    """Sign in with an e-mailed code; it proves the address. `recovery` opens a recovery session."""
    code = mailbox.consume_code(store, now, email=email, code=token, purposes=mailbox.VERIFY_PURPOSES[type_])
    user = store.users[code.user_id]
    account = account_of(store, now, user)
    account.confirmed = True
    return sign_in(store, now, paywall, user, account, visitor_id=visitor_id, user_meta=user_meta,
                   recovery=code.purpose == "recovery")


def request_password_reset(store: Store, now: datetime, paywall: Paywall, *, email: str, origin: str) -> None:
    user = store.user_by_email(email)
    if user is not None and user.id in store.auth.accounts:
        mailbox.send_code(store, now, email=email, purpose="recovery", user_id=user.id, paywall_id=paywall.id,
                          origin=origin, paywall_name=paywall.name)


def update_password(store: Store, now: datetime, user: User, password: str) -> User:
    check_password(password)
    account_of(store, now, user).password_hash = password_hash(user.id, password)
    return user


def reset_password(store: Store, now: datetime, *, token: str, password: str) -> User:
    """The reset page's form: a live recovery link sets the password (and proves the address)."""
    check_password(password)
    code = mailbox.consume_link(store, now, token, ("recovery",))
    user = store.users[code.user_id]
    account = account_of(store, now, user)
    account.password_hash, account.confirmed = password_hash(user.id, password), True
    return user


def check_reset_link(store: Store, now: datetime, token: str) -> None:
    """The reset page shows its form only for a live recovery link."""
    mailbox.peek_link(store, now, token, ("recovery",))


def confirm_address(store: Store, now: datetime, token: str) -> User:
    """The confirmation pages: a live link confirms a sign-up, or moves an upgraded anonymous user to
    the new address (unless someone took it meanwhile: `email_exists`)."""
    code = mailbox.peek_link(store, now, token, ("signup", "email", "email_change", "invite"))
    user = store.users[code.user_id]
    account = account_of(store, now, user)
    if code.purpose == "email_change":
        if account.pending_email != code.email or email_taken(store, code.email, by_other_than=user.id):
            raise _email_exists()
        _set_email(store, user, code.email)
        store.auth.set_pending(account, None)
        account.anonymous = False
    code.used = True
    account.confirmed = True
    return user


def sign_in_anonymously(store: Store, now: datetime, paywall: Paywall, *, visitor_id: str | None,
                        user_meta: dict[str, Any] | None) -> SignedIn:
    if not paywall.settings.get("allow_anonymous", False):
        raise ForbiddenError("Anonymous sign-in is disabled on this paywall", code="anonymous_disabled",
                             error="anonymous_disabled")
    user = new_user(store, now, None)
    account = store.auth.accounts[user.id] = Account(user_id=user.id, anonymous=True, created_at=now)
    return sign_in(store, now, paywall, user, account, visitor_id=visitor_id, user_meta=user_meta)


def upgrade_anonymous(store: Store, now: datetime, paywall: Paywall, user: User, *, email: str, password: str,
                      user_meta: dict[str, Any] | None, origin: str) -> Upgrade:
    """Give the Bearer's anonymous user an address and a password, keeping its id."""
    account = account_of(store, now, user)
    if not account.anonymous:
        if user.email and mailbox.normal(user.email) == mailbox.normal(email):  # a repeated upgrade
            return Upgrade(status="updated", email=user.email, user=user, account=account)
        raise BadRequestError("The signed-in user is not anonymous", code="not_anonymous", error="not_anonymous")
    check_password(password)
    if email_taken(store, email, by_other_than=user.id):
        raise _email_exists()
    account.password_hash = password_hash(user.id, password)
    if user_meta:
        account.user_meta.update(user_meta)
    if not paywall.email_confirmation:
        _set_email(store, user, email)
        account.anonymous, account.confirmed = False, True
        store.auth.set_pending(account, None)
        return Upgrade(status="updated", email=email, user=user, account=account)
    store.auth.set_pending(account, mailbox.normal(email))
    _resend(store, now, paywall, user, "email_change", origin, email)
    return Upgrade(status="confirmation_required", email=email, user=user, account=account)


def require_session_user(user: User | None) -> User:
    if user is None:  # the spec requires a Bearer here; only an owner key could get this far
        raise UnauthorizedError("Send Authorization: Bearer <token>", code="authorization_required",
                                error="authorization_required")
    return user


def reattribute(store: Store, now: datetime, paywall: Paywall, user: User, visitor_id: str | None) -> int:
    """Move this paywall's guest checkouts started under `visitor_id` (by a user without an account)
    to `user`, with their subscriptions, payments and the tokens those payments granted; answers how
    many checkouts moved."""
    if not visitor_id or len(visitor_id) < MIN_VISITOR_ID:
        return 0
    moved = [c for c in store.checkouts_of_visitor(paywall.id, visitor_id)
             if c.user_id != user.id and c.user_id not in store.auth.accounts]
    for checkout in moved:
        guest = checkout.user_id
        old_link = store.link(guest, paywall.id)
        subs = [store.subscriptions[checkout.subscription_id]] if checkout.subscription_id else []
        payments = [p for p in store.payments_of(guest, paywall.id)
                    if p.checkout_id == checkout.id or any(p.subscription_id == s.id for s in subs)]
        move_grants(store, now, paywall, payments, guest, user.id)
        checkout.user_id = user.id
        for sub in subs:
            store.move_subscription(sub, user.id)
        for payment in payments:
            store.move_payment(payment, user.id)
        link = ensure_link(store, now, user, paywall)
        link.had_trial = link.had_trial or bool(old_link and old_link.had_trial)
    return len(moved)
