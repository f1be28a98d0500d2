"""The emulated mailbox and its one-time codes: what sign-in would have e-mailed (confirmation links,
6-digit codes, reset links) is kept per world instead, newest first when read.

Rules: a code and its link live 1 h; a newer code for the same address and purpose supersedes the
older one; a code or link works once; a confirmation e-mail to one address at most once a minute
(`over_email_send_rate_limit`). Links are built from the origin the request arrived on. The mailbox is
history, capped at `limits.mailbox` messages (the codes are kept apart). No aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from ....engine.history import trim_list
from ..errors import BadRequestError, RateLimitedError
from ..models_auth import CodePurpose, MailKind, MailMessage, OneTimeCode
from ..state import Store

CODE_TTL = timedelta(hours=1)  # recovery links are valid 1 h (the SDK's UI copy); the same for every code
RESEND_INTERVAL = timedelta(minutes=1)  # about one confirmation e-mail per minute per address

# Where each purpose's link lands (E13) and what the message says.
_LINKS: dict[CodePurpose, str] = {
    "signup": "/paywall/v3/auth/confirm",
    "email": "/paywall/v3/auth/confirm",
    "email_change": "/paywall/auth/confirm",
    "recovery": "/paywall/auth/reset",
    "invite": "/paywall/auth/confirm",
}
_KINDS: dict[CodePurpose, MailKind] = {
    "signup": "signup_confirmation", "email": "sign_in_code", "email_change": "email_change",
    "recovery": "password_recovery", "invite": "signup_confirmation",
}
_SUBJECTS: dict[MailKind, str] = {
    "signup_confirmation": "Confirm your sign-up",
    "sign_in_code": "Your sign-in code",
    "email_change": "Confirm your e-mail address",
    "password_recovery": "Reset your password",
}
# Which codes `otp/verify` accepts for each `type` (an e-mail OTP also confirms a pending sign-up).
VERIFY_PURPOSES: dict[str, tuple[CodePurpose, ...]] = {
    "email": ("email", "signup"), "magiclink": ("email",), "signup": ("signup",),
    "recovery": ("recovery",), "invite": ("invite",),
}


def normal(email: str) -> str:
    return email.strip().lower()


def send_code(store: Store, now: datetime, *, email: str, purpose: CodePurpose, user_id: str, paywall_id: str,
              origin: str, paywall_name: str) -> MailMessage:
    """Issue a code (superseding older ones of the same purpose) and put its message in the mailbox."""
    address = normal(email)
    for old in store.auth.codes_by_email.get(address, ()):
        if old.purpose == purpose and not old.used:
            old.superseded = True
    code = OneTimeCode(email=address, purpose=purpose, code=store.ids.digits(6), link_token=store.ids.token(16),
                       user_id=user_id, paywall_id=paywall_id, created_at=now, expires_at=now + CODE_TTL)
    store.auth.add_code(code)
    link = f"{origin}{_LINKS[purpose]}?{urlencode({'token': code.link_token, 'type': purpose})}"
    kind = _KINDS[purpose]
    text = (f"{_SUBJECTS[kind]} for {paywall_name}.\n\nYour code: {code.code}\n\nOr open this link: {link}\n\n"
            f"The code and the link work once, for 1 hour.")
    message = MailMessage(id=f"mail_{store.ids.alnum(16)}", to=email.strip(), paywall_id=paywall_id, kind=kind,
                          subject=_SUBJECTS[kind], text=text, code=code.code, link=link, sent_at=now)
    store.auth.mailbox.append(message)
    trim_list(store.auth.mailbox, store.limits.mailbox, store.evicted, "mailbox")  # its codes stay valid
    return message


def check_send_rate(store: Store, now: datetime, email: str, purposes: Iterable[CodePurpose]) -> None:
    """Refuse (429) a second e-mail of these purposes to one address within a minute."""
    address, wanted = normal(email), set(purposes)
    last = max((c.created_at for c in store.auth.codes_by_email.get(address, ()) if c.purpose in wanted),
               default=None)
    if last is not None and now - last < RESEND_INTERVAL:
        wait = int((RESEND_INTERVAL - (now - last)).total_seconds()) + 1
        raise RateLimitedError(f"For security purposes, you can only request this after {wait} seconds",
                               code="over_email_send_rate_limit", error="over_email_send_rate_limit")


def consume_code(store: Store, now: datetime, *, email: str, code: str,
                 purposes: tuple[CodePurpose, ...]) -> OneTimeCode:
    """The live code `code` sent to `email` for one of `purposes`, now used; else 400 `invalid_otp`
    (wrong, used or superseded) or `otp_expired`."""
    address = normal(email)
    found = [c for c in store.auth.codes_by_email.get(address, ())
             if c.purpose in purposes and c.code == code.strip()]
    live = [c for c in found if not (c.used or c.superseded)]
    if not live:
        raise BadRequestError("The code is invalid or was already used", code="invalid_otp", error="invalid_otp")
    match = live[-1]
    if match.expires_at <= now:
        raise BadRequestError("The code has expired; request a new one", code="otp_expired", error="otp_expired")
    match.used = True
    return match


def consume_link(store: Store, now: datetime, token: str, purposes: tuple[CodePurpose, ...]) -> OneTimeCode:
    """The live code behind an e-mailed link; else `invalid_otp` (unknown, used, superseded) or
    `token_expired`."""
    match = store.auth.codes_by_link.get(token)
    if match is None or match.purpose not in purposes or match.used or match.superseded:
        raise BadRequestError("This link is invalid or was already used", code="invalid_otp", error="invalid_otp")
    if match.expires_at <= now:
        raise BadRequestError("This link has expired; request a new one", code="token_expired",
                              error="token_expired")
    match.used = True
    return match


def peek_link(store: Store, now: datetime, token: str, purposes: tuple[CodePurpose, ...]) -> OneTimeCode:
    """Like `consume_link`, without using it (the reset page shows its form first)."""
    match = consume_link(store, now, token, purposes)
    match.used = False
    return match


def messages_to(store: Store, email: str | None) -> list[MailMessage]:
    """The mailbox, newest first; only messages to `email` when given."""
    wanted = normal(email) if email else None
    return [m for m in reversed(store.auth.mailbox) if wanted is None or normal(m.to) == wanted]
