"""Handlers of sign-in's control operations: the emulated mailbox (`/_emulator/mailbox`) and the fake
OAuth provider's page (`/_emulator/oauth/authorize`), which answers like a provider with a 303 to the
callback page."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import mailbox, oauth
from ..errors import EmulatorError
from ..pages_auth import render_provider_page
from ..views_auth import render_mailbox

HTML = "text/html"


@operation("listMailbox")
async def list_mailbox(call: Call) -> Reply:
    return Reply(body=render_mailbox(mailbox.messages_to(call.state, call.query.get("email"))))


@operation("showOAuthProvider")
async def show_oauth_provider(call: Call) -> Reply:
    store = call.state
    flow = oauth.require_flow(store, call.world.now(), call.query["flow"])
    return Reply(body=render_provider_page(flow, oauth.suggested_identity(store, flow)), content_type=HTML)


@operation("submitOAuthProvider")
async def submit_oauth_provider(call: Call) -> Reply:
    form, store, now = call.body, call.state, call.world.now()
    choice = oauth.ProviderChoice(action=form["action"], name=form.get("name"), email=form.get("email"),
                                  avatar=form.get("avatar"))
    try:
        url = oauth.decide(store, now, form["flow"], choice)
    except EmulatorError as err:
        if err.http_status not in (400, 409):
            raise
        flow = oauth.require_flow(store, now, form["flow"])
        page = render_provider_page(flow, oauth.suggested_identity(store, flow), err.message)
        return Reply(status=err.http_status, body=page, content_type=HTML)
    return Reply(status=303, body="", content_type=HTML, headers={"Location": url})
