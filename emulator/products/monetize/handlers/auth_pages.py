"""Handlers of the sign-in pages on the paywall's domain (E13): the OAuth callback, the e-mail
confirmation landings and the password-reset page. A link that does not work answers its page with
the reason (400), never JSON: a person opened it from a mail client."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import accounts
from ..errors import EmulatorError
from ..pages_auth import (
    render_callback_page,
    render_confirmed_page,
    render_link_error_page,
    render_reset_done_page,
    render_reset_form,
)

HTML = "text/html"


def _html(page: str, status: int = 200) -> Reply:
    return Reply(status=status, body=page, content_type=HTML, headers={"Cache-Control": "no-store"})


@operation("showOAuthCallback")
async def show_oauth_callback(call: Call) -> Reply:
    return _html(render_callback_page())


@operation("confirmEmailLink", "confirmEmailLinkLegacy")
async def confirm_email_link(call: Call) -> Reply:
    try:
        user = accounts.confirm_address(call.state, call.world.now(), str(call.query.get("token") or ""))
    except EmulatorError as err:
        return _html(render_link_error_page("E-mail not confirmed", err.code, err.message), 400)
    return _html(render_confirmed_page(user.email))


@operation("showPasswordReset")
async def show_password_reset(call: Call) -> Reply:
    token = str(call.query.get("token") or "")
    try:
        accounts.check_reset_link(call.state, call.world.now(), token)
    except EmulatorError as err:
        return _html(render_link_error_page("Password not reset", err.code, err.message), 400)
    return _html(render_reset_form(token))


@operation("submitPasswordReset")
async def submit_password_reset(call: Call) -> Reply:
    form = call.body
    try:
        user = accounts.reset_password(call.state, call.world.now(), token=form["token"], password=form["password"])
    except EmulatorError as err:
        if err.code == "weak_password":
            return _html(render_reset_form(form["token"], err.message), 400)
        return _html(render_link_error_page("Password not reset", err.code, err.message), 400)
    return _html(render_reset_done_page(user.email))
