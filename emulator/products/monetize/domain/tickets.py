"""Support tickets: field bounds, the guest e-mail rule, file limits and the 24 h rate limit.

Rules: subject 3–200 and content 1–5000 characters after trimming; a Bearer's e-mail replaces any
`customer_email` (anti-spoofing); guests must give one; at most 5 image files (jpeg/png/webp) of
at most 10 MB each; more than 2 tickets per 24 h per user/e-mail answers 429. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ....engine.structs import struct
from ..errors import BadRequestError, RateLimitedError
from ..models import Ticket
from ..state import Store
from .identity import is_email

MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
RATE_WINDOW = timedelta(hours=24)
RATE_LIMIT = 2


@struct(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


def create(store: Store, now: datetime, paywall_id: str, *, subject: object, content: object,
           customer_email: str | None, session_email: str | None, session_user_id: str | None,
           files: list[Attachment]) -> Ticket:
    if not isinstance(subject, str) or not isinstance(content, str):
        raise BadRequestError("subject and content are required", code="invalid_payload", error="invalid_payload")
    subject, content = subject.strip(), content.strip()
    if not 3 <= len(subject) <= 200:
        raise BadRequestError("subject must be 3-200 characters", code="subject_length", error="subject_length")
    if not 1 <= len(content) <= 5000:
        raise BadRequestError("content must be 1-5000 characters", code="content_length", error="content_length")
    email = session_email or customer_email or None
    if not email:
        raise BadRequestError("customer_email is required without a signed-in user", code="email_required",
                              error="email_required")
    if not is_email(email):
        raise BadRequestError("customer_email is not a valid e-mail address", code="invalid_email",
                              error="invalid_email")
    if len(files) > MAX_FILES:
        raise BadRequestError(f"at most {MAX_FILES} files per ticket", code="too_many_files",
                              error="too_many_files")
    for f in files:
        if f.content_type not in ALLOWED_TYPES:
            raise BadRequestError(f"{f.filename}: only image/jpeg, image/png and image/webp are accepted",
                                  code="invalid_file", error="invalid_file")
        if f.size > MAX_FILE_BYTES:
            raise BadRequestError(f"{f.filename}: files are at most 10 MB", code="file_too_large",
                                  error="file_too_large")
    recent = [t for t in store.tickets
              if t.paywall_id == paywall_id and now - t.created_at < RATE_WINDOW
              and (t.email.lower() == email.lower() or (session_user_id and t.user_id == session_user_id))]
    if len(recent) >= RATE_LIMIT:
        raise RateLimitedError("More than 2 tickets per 24 h for this user", code="rate_limit_exceeded",
                               error="rate_limit_exceeded")
    ticket = Ticket(id=store.ids.sequence("ticket", start=12001), paywall_id=paywall_id, email=email,
                    user_id=session_user_id, subject=subject, content=content,
                    files=[{"filename": f.filename, "content_type": f.content_type, "size": f.size} for f in files],
                    created_at=now)
    store.tickets.append(ticket)
    return ticket
