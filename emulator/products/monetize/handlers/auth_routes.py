"""Handlers of the SDK's sign-in routes (`POST /api/v1/paywall/{id}/auth/*`, spec tag `auth`): each
reads the validated body, calls one function of `domain.accounts`, `domain.sessions` or
`domain.oauth`, and answers a `views_auth` shape."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller
from ..domain import accounts, oauth, sessions
from ..views_auth import (
    render_oauth_init,
    render_ok,
    render_password_updated,
    render_sign_up,
    render_signed_in,
    render_token_set,
    render_upgrade,
)


def _bearer_token(call: Call) -> str:
    return call.headers.get("Authorization", "").strip().partition(" ")[2].strip()


@operation("authEmailSignIn")
async def email_sign_in(call: Call) -> Reply:
    body, now = call.body, call.world.now()
    signed = accounts.sign_in_with_password(
        call.state, now, caller(call).require_paywall(), email=body["email"], password=body["password"],
        visitor_id=body.get("visitor_id"), user_meta=body.get("user_meta"))
    return Reply(body=render_signed_in(signed, now))


@operation("authEmailSignUp")
async def email_sign_up(call: Call) -> Reply:
    body, now = call.body, call.world.now()
    outcome = accounts.sign_up(
        call.state, now, caller(call).require_paywall(), email=body["email"], password=body["password"],
        visitor_id=body.get("visitor_id"), user_meta=body.get("user_meta"), origin=call.origin,
        idempotency_key=call.headers.get("Idempotency-Key"))
    return Reply(body=render_sign_up(outcome, now))


@operation("authEmailResend")
async def email_resend(call: Call) -> Reply:
    accounts.resend_confirmation(call.state, call.world.now(), caller(call).require_paywall(),
                                 email=call.body["email"], origin=call.origin,
                                 idempotency_key=call.headers.get("Idempotency-Key"))
    return Reply(body=render_ok())


@operation("authOtpSend")
async def otp_send(call: Call) -> Reply:
    body = call.body
    accounts.send_sign_in_code(call.state, call.world.now(), caller(call).require_paywall(), email=body["email"],
                               create_user=body.get("create_user", True), user_meta=body.get("user_meta"),
                               origin=call.origin)
    return Reply(body=render_ok())


@operation("authOtpVerify")
async def otp_verify(call: Call) -> Reply:
    body, now = call.body, call.world.now()
    signed = accounts.verify_code(
        call.state, now, caller(call).require_paywall(), email=body["email"], token=body["token"],
        type_=body.get("type", "email"), visitor_id=body.get("visitor_id"), user_meta=body.get("user_meta"))
    return Reply(body=render_signed_in(signed, now))


@operation("authPasswordRequestReset")
async def password_request_reset(call: Call) -> Reply:
    accounts.request_password_reset(call.state, call.world.now(), caller(call).require_paywall(),
                                    email=call.body["email"], origin=call.origin)
    return Reply(body=render_ok())


@operation("authPasswordUpdate")
async def password_update(call: Call) -> Reply:
    user = accounts.require_session_user(caller(call).bearer_user)
    return Reply(body=render_password_updated(
        accounts.update_password(call.state, call.world.now(), user, call.body["password"])))


@operation("authRefresh")
async def refresh(call: Call) -> Reply:
    now = call.world.now()
    return Reply(body=render_token_set(sessions.refresh(call.state, now, call.body["refresh_token"]), now))


@operation("authAnonymousSignIn")
async def anonymous_sign_in(call: Call) -> Reply:
    body, now = call.body or {}, call.world.now()
    signed = accounts.sign_in_anonymously(call.state, now, caller(call).require_paywall(),
                                          visitor_id=body.get("visitor_id"), user_meta=body.get("user_meta"))
    return Reply(body=render_signed_in(signed, now))


@operation("authAnonymousUpgrade")
async def anonymous_upgrade(call: Call) -> Reply:
    body, user = call.body, accounts.require_session_user(caller(call).bearer_user)
    outcome = accounts.upgrade_anonymous(
        call.state, call.world.now(), caller(call).require_paywall(), user, email=body["email"],
        password=body["password"], user_meta=body.get("user_meta"), origin=call.origin)
    return Reply(body=render_upgrade(outcome))


@operation("authOAuthInit")
async def oauth_init(call: Call) -> Reply:
    body = call.body
    flow = oauth.start(call.state, call.world.now(), caller(call).require_paywall(), provider=body["provider"],
                       code_challenge=body["code_challenge"], scopes=body.get("scopes"), origin=call.origin,
                       link_user=caller(call).bearer_user)
    return Reply(body=render_oauth_init(flow, call.origin))


@operation("authOAuthExchange")
async def oauth_exchange(call: Call) -> Reply:
    body, now = call.body, call.world.now()
    signed = oauth.exchange(call.state, now, caller(call).require_paywall(), auth_code=body["auth_code"],
                            code_verifier=body["code_verifier"], visitor_id=body.get("visitor_id"),
                            user_meta=body.get("user_meta"))
    return Reply(body=render_signed_in(signed, now))


@operation("authSignOut")
async def sign_out(call: Call) -> Reply:
    accounts.require_session_user(caller(call).bearer_user)
    sessions.sign_out(call.state, _bearer_token(call))
    return Reply(body=render_ok())


@operation("authRevokeAll")
async def revoke_all(call: Call) -> Reply:
    sessions.revoke_all(call.state, accounts.require_session_user(caller(call).bearer_user))
    return Reply(body=render_ok())
