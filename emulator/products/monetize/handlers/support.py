"""Handler of support tickets (JSON or multipart with image files)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..domain import tickets
from ..views import render_ticket


@operation("createSupportTicket")
async def create_support_ticket(call: Call) -> Reply:
    body, bearer = call.body or {}, caller(call).bearer_user
    ticket = tickets.create(
        call.state, call.world.now(), caller(call).require_paywall().id,
        subject=body.get("subject"), content=body.get("content"), customer_email=body.get("customer_email"),
        session_email=bearer.email if bearer else None, session_user_id=bearer.id if bearer else None,
        files=[tickets.Attachment(filename=f.filename, content_type=f.content_type, size=f.size)
               for f in call.files if f.field == "files"],
    )
    return Reply(body=render_ticket(ticket))
