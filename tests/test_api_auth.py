"""The SDK's sign-in routes (`/api/v1/paywall/{id}/auth/*`), the emulated mailbox and the e-mail link
pages, over HTTP: every answer variant and error code, with the state after (who can sign in, which
tokens work, what landed in the mailbox). The OAuth routes are in test_api_oauth.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ControlClient, ThreadedEmulator

from .auth_support import PASSWORD, auth, code_of, exchange, frozen, init, ok, press
from .conftest import ACME_KEY, PADDLE_PW, STRIPE_PW, TOKEN_PW, Api, error_of
from .worlds import bundled


def balances(api: Api, token: str, paywall: str = TOKEN_PW) -> requests.Response:
    return api.get(f"/api/v1/paywall/{paywall}/balances", bearer=token)


def user_state(api: Api, token: str, paywall: str = STRIPE_PW) -> dict[str, Any]:
    return ok(api.get(f"/api/v1/paywall/{paywall}/user-state", bearer=token))


def me(api: Api, token: str, paywall: str = STRIPE_PW) -> dict[str, Any]:
    """The Bearer's user profile, as `GET /user` shows it."""
    profile: dict[str, Any] = ok(api.get(f"/api/v1/paywall/{paywall}/user", bearer=token))["user"]
    return profile


@pytest.fixture
def no_confirmation(emu: ThreadedEmulator) -> Iterator[None]:
    """The bundled world with e-mail confirmation off on paywalls 3 and 15, and anonymous sign-in
    allowed on 15 (the tokenized one)."""
    doc = bundled()
    for paywall in doc["monetize"]["paywalls"]:
        if paywall["id"] in (STRIPE_PW, TOKEN_PW):
            paywall["auth"] = {"email_confirmation": False}
        if paywall["id"] == TOKEN_PW:
            paywall["settings"] = {**paywall.get("settings", {}), "allow_anonymous": True}
    emu.control.load_world(doc)
    yield
    emu.restore()


def sign_up_confirmed(api: Api, control: ControlClient, email: str, password: str = PASSWORD) -> str:
    """Sign up (confirmation on), confirm through the mailed link; answers the user id."""
    body = ok(auth(api, "email/signup", {"email": email, "password": password}))
    assert body["status"] == "confirmation_required"
    [mail] = control.mailbox(email)
    page = api.session.get(mail["link"], timeout=30)
    assert page.status_code == 200, page.text
    user_id: str = body["user"]["id"]
    return user_id


# ---------------------------------------------------------------- sign-up, confirmation, sign-in


def test_sign_up_with_confirmation_mails_a_code_and_waits(api: Api, control: ControlClient) -> None:
    now = frozen(control)
    body = ok(auth(api, "email/signup", {"email": "Ann@Example.com", "password": PASSWORD,
                                         "user_meta": {"plan": "pro"}}))
    assert body["status"] == "confirmation_required" and set(body) == {"status", "user"}
    assert body["user"]["email"] == "Ann@Example.com"
    [mail] = control.mailbox("ann@example.com")
    assert mail["kind"] == "signup_confirmation" and mail["to"] == "Ann@Example.com" and mail["paywall_id"] == "3"
    assert len(mail["code"]) == 6 and mail["code"].isdigit() and mail["code"] in mail["text"]
    assert mail["link"].startswith(f"{api.base_url}/paywall/v3/auth/confirm?token=") and mail["link"] in mail["text"]
    assert datetime.fromisoformat(mail["sent_at"].replace("Z", "+00:00")) == now
    # Not confirmed yet: the right password says so, a wrong one does not reveal it.
    assert error_of(auth(api, "email/signin", {"email": "ann@example.com", "password": PASSWORD})) == (
        400, "email_not_confirmed")
    assert error_of(auth(api, "email/signin", {"email": "ann@example.com", "password": "wrong-one"})) == (
        400, "invalid_credentials")
    # The same sign-up again: the same answer, no second mail within the minute.
    again = ok(auth(api, "email/signup", {"email": "ann@example.com", "password": PASSWORD}))
    assert again == {"status": "confirmation_required", "user": body["user"]}
    assert len(control.mailbox("ann@example.com")) == 1


def test_the_code_confirms_and_signs_in(api: Api, control: ControlClient) -> None:
    now = frozen(control)
    user = ok(auth(api, "email/signup", {"email": "bea@example.com", "password": PASSWORD}))["user"]
    code = control.mailbox("bea@example.com")[0]["code"]
    wrong = "000000" if code != "000000" else "111111"
    assert error_of(auth(api, "otp/verify", {"email": "bea@example.com", "token": wrong, "type": "signup"})) == (
        400, "invalid_otp")
    assert error_of(auth(api, "otp/verify", {"email": "bea@example.com", "token": code, "type": "recovery"})) == (
        400, "invalid_otp")  # a sign-up code is not a recovery code
    signed = ok(auth(api, "otp/verify", {"email": "bea@example.com", "token": code, "type": "signup"}))
    assert signed["user"] == {"id": user["id"], "email": "bea@example.com", "country": "US", "name": None,
                              "avatar": None, "is_anonymous": False}
    assert signed["token_type"] == "bearer" and signed["expires_in"] == 3600
    assert signed["expires_at"] == int((now + timedelta(hours=1)).timestamp())
    assert signed["access_token"] != signed["refresh_token"]
    assert me(api, signed["access_token"])["email"] == "bea@example.com"
    assert error_of(auth(api, "otp/verify", {"email": "bea@example.com", "token": code, "type": "signup"})) == (
        400, "invalid_otp")  # once only
    again = ok(auth(api, "email/signin", {"email": "BEA@example.com", "password": PASSWORD}))
    assert again["user"]["id"] == user["id"] and again["access_token"] != signed["access_token"]


def test_the_link_confirms_once(api: Api, control: ControlClient) -> None:
    ok(auth(api, "email/signup", {"email": "cid@example.com", "password": PASSWORD}))
    link = control.mailbox("cid@example.com")[0]["link"]
    page = api.session.get(link, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'data-status="confirmed"' in page.text and "cid@example.com" in page.text
    assert ok(auth(api, "email/signin", {"email": "cid@example.com", "password": PASSWORD}))["user"]["email"] == (
        "cid@example.com")
    reused = api.session.get(link, timeout=30)
    assert reused.status_code == 400 and 'data-code="invalid_otp"' in reused.text
    unknown = api.get("/paywall/v3/auth/confirm?token=nope")
    assert unknown.status_code == 400 and 'data-code="invalid_otp"' in unknown.text
    # A confirmed address signs up again: already registered, no mail.
    assert ok(auth(api, "email/signup", {"email": "cid@example.com", "password": "another-pw"})) == {
        "status": "already_registered", "email": "cid@example.com"}
    assert len(control.mailbox("cid@example.com")) == 1


def test_an_expired_link_and_code(api: Api, control: ControlClient) -> None:
    frozen(control)
    ok(auth(api, "email/signup", {"email": "dot@example.com", "password": PASSWORD}))
    [mail] = control.mailbox("dot@example.com")
    control.clock.advance(minutes=61)
    page = api.session.get(mail["link"], timeout=30)
    assert page.status_code == 400 and 'data-code="token_expired"' in page.text
    assert error_of(auth(api, "otp/verify", {"email": "dot@example.com", "token": mail["code"]})) == (
        400, "otp_expired")
    assert error_of(auth(api, "email/signin", {"email": "dot@example.com", "password": PASSWORD})) == (
        400, "email_not_confirmed")


def test_weak_passwords_are_refused_and_create_nothing(api: Api, control: ControlClient) -> None:
    users_before = len(control.state()["monetize"]["users"])
    for password in ("12345", "x" * 73):
        assert error_of(auth(api, "email/signup", {"email": "eve@example.com", "password": password})) == (
            422, "weak_password")
    assert len(control.state()["monetize"]["users"]) == users_before and control.mailbox() == []
    assert error_of(auth(api, "email/signup", {"email": "not-an-email", "password": PASSWORD})) == (
        400, "invalid_email")
    assert error_of(auth(api, "email/signup", {"email": "eve@example.com"})) == (400, "invalid_request")
    assert error_of(auth(api, "email/signup", {"email": "eve@example.com", "password": PASSWORD},
                         paywall="999")) == (404, "not_found")


def test_sign_in_errors(api: Api, control: ControlClient) -> None:
    sign_up_confirmed(api, control, "fay@example.com")
    for body in ({"email": "fay@example.com", "password": "wrong-password"},
                 {"email": "nobody@example.com", "password": PASSWORD},
                 {"email": "alice@example.com", "password": PASSWORD}):  # a seeded user without a password
        assert error_of(auth(api, "email/signin", body)) == (400, "invalid_credentials")


def test_a_world_file_password_signs_in(emu: ThreadedEmulator, api: Api) -> None:
    doc = bundled()
    doc["monetize"]["users"][0]["password"] = "alice-secret"
    emu.control.load_world(doc)
    try:
        signed = ok(auth(api, "email/signin", {"email": "alice@example.com", "password": "alice-secret"}))
        assert signed["user"]["id"] == "a11ce000-0000-4000-8000-000000000001"
        assert user_state(api, signed["access_token"])["has_active_subscription"] is True
    finally:
        emu.restore()


def test_sign_up_without_confirmation_signs_in_at_once(api: Api, control: ControlClient,
                                                        no_confirmation: None) -> None:
    now = frozen(control)
    body = ok(auth(api, "email/signup", {"email": "gus@example.com", "password": PASSWORD}))
    assert body["status"] == "signed_in" and body["user"]["email"] == "gus@example.com"
    assert body["expires_at"] == int((now + timedelta(hours=1)).timestamp()) and body["token_type"] == "bearer"
    assert control.mailbox() == []
    assert me(api, body["access_token"])["email"] == "gus@example.com"
    assert error_of(auth(api, "email/signup", {"email": "GUS@example.com", "password": PASSWORD})) == (
        422, "email_exists")


def test_resend_is_always_ok_but_once_a_minute(api: Api, control: ControlClient) -> None:
    frozen(control)
    assert ok(auth(api, "email/resend", {"email": "nobody@example.com"})) == {"ok": True}
    assert control.mailbox() == []
    ok(auth(api, "email/signup", {"email": "hal@example.com", "password": PASSWORD}))
    first = control.mailbox("hal@example.com")[0]
    assert error_of(auth(api, "email/resend", {"email": "hal@example.com"})) == (429, "over_email_send_rate_limit")
    control.clock.advance(seconds=61)
    assert ok(auth(api, "email/resend", {"email": "hal@example.com"})) == {"ok": True}
    newest, older = control.mailbox("hal@example.com")
    assert older == first and newest["code"] and newest["link"] != first["link"]
    assert error_of(auth(api, "otp/verify", {"email": "hal@example.com", "token": first["code"]})) in (
        (400, "invalid_otp"),)  # superseded (unless the codes happen to be equal; they are seeded)
    assert ok(auth(api, "otp/verify", {"email": "hal@example.com", "token": newest["code"]}))["user"]["email"] == (
        "hal@example.com")
    # Confirmed now: resend sends nothing.
    control.clock.advance(seconds=61)
    assert ok(auth(api, "email/resend", {"email": "hal@example.com"})) == {"ok": True}
    assert len(control.mailbox("hal@example.com")) == 2


# ---------------------------------------------------------------- codes and passwords


def test_otp_send_and_verify(api: Api, control: ControlClient) -> None:
    assert ok(auth(api, "otp/send", {"email": "ivy@example.com", "create_user": False})) == {"ok": True}
    assert control.mailbox() == []
    assert ok(auth(api, "otp/send", {"email": "ivy@example.com", "user_meta": {"src": "otp"}})) == {"ok": True}
    [mail] = control.mailbox("ivy@example.com")
    assert mail["kind"] == "sign_in_code"
    signed = ok(auth(api, "otp/verify", {"email": "ivy@example.com", "token": mail["code"], "type": "magiclink"}))
    assert signed["user"]["email"] == "ivy@example.com" and signed["user"]["is_anonymous"] is False
    # A seeded user without a password signs in with a code and keeps their purchases.
    ok(auth(api, "otp/send", {"email": "alice@example.com"}))
    code = control.mailbox("alice@example.com")[0]["code"]
    alice = ok(auth(api, "otp/verify", {"email": "alice@example.com", "token": code}))
    assert alice["user"]["id"] == "a11ce000-0000-4000-8000-000000000001"
    assert user_state(api, alice["access_token"])["has_active_subscription"] is True
    assert error_of(auth(api, "otp/verify", {"email": "ivy@example.com", "token": "12345a", "type": "bogus"})) == (
        400, "invalid_request")


def test_password_recovery_by_code(api: Api, control: ControlClient) -> None:
    user_id = sign_up_confirmed(api, control, "jon@example.com")
    assert ok(auth(api, "password/request-reset", {"email": "nobody@example.com"})) == {"ok": True}
    assert ok(auth(api, "password/request-reset", {"email": "jon@example.com"})) == {"ok": True}
    mail = control.mailbox("jon@example.com")[0]
    assert mail["kind"] == "password_recovery" and mail["link"].startswith(f"{api.base_url}/paywall/auth/reset?")
    recovery = ok(auth(api, "otp/verify", {"email": "jon@example.com", "token": mail["code"], "type": "recovery"}))
    assert recovery["user"]["id"] == user_id
    token = recovery["access_token"]
    assert error_of(auth(api, "password/update", {"password": "short"}, bearer=token)) == (422, "weak_password")
    assert error_of(auth(api, "password/update", {"password": "new-password"})) == (401, "authorization_required")
    assert error_of(auth(api, "password/update", {"password": "new-password"}, bearer="nope")) == (
        401, "invalid_token")
    assert ok(auth(api, "password/update", {"password": "new-password"}, bearer=token)) == {
        "ok": True, "user": {"id": user_id, "email": "jon@example.com"}}
    assert error_of(auth(api, "email/signin", {"email": "jon@example.com", "password": PASSWORD})) == (
        400, "invalid_credentials")
    assert ok(auth(api, "email/signin", {"email": "jon@example.com", "password": "new-password"}))


def test_password_recovery_by_link_page(api: Api, control: ControlClient) -> None:
    sign_up_confirmed(api, control, "kay@example.com")
    ok(auth(api, "password/request-reset", {"email": "kay@example.com"}))
    link = control.mailbox("kay@example.com")[0]["link"]
    form = api.session.get(link, timeout=30)
    assert form.status_code == 200 and 'data-status="form"' in form.text and 'name="password"' in form.text
    token = link.split("token=")[1].split("&")[0]
    weak = api.post("/paywall/auth/reset", data={"token": token, "password": "abc"})
    assert weak.status_code == 400 and 'data-status="form"' in weak.text and "6 to 72" in weak.text
    done = api.post("/paywall/auth/reset", data={"token": token, "password": "reset-password"})
    assert done.status_code == 200 and 'data-status="updated"' in done.text
    assert ok(auth(api, "email/signin", {"email": "kay@example.com", "password": "reset-password"}))
    again = api.post("/paywall/auth/reset", data={"token": token, "password": "another-one"})
    assert again.status_code == 400 and 'data-code="invalid_otp"' in again.text
    assert api.session.get(link, timeout=30).status_code == 400
    missing = api.post("/paywall/auth/reset", data={"token": token})
    assert error_of(missing) == (400, "invalid_request")


# ---------------------------------------------------------------- tokens: refresh, sign-out, revoke-all


def test_refresh_rotates_across_a_clock_advance(api: Api, control: ControlClient, no_confirmation: None) -> None:
    frozen(control)
    first = ok(auth(api, "email/signup", {"email": "lee@example.com", "password": PASSWORD}))
    assert balances(api, first["access_token"]).status_code == 200
    control.clock.advance(minutes=59)
    assert balances(api, first["access_token"]).status_code == 200  # still inside its hour
    control.clock.advance(minutes=2)
    assert error_of(balances(api, first["access_token"])) == (401, "invalid_token")  # expired: the SDK refreshes
    now = control.clock.now()
    second = ok(auth(api, "refresh", {"refresh_token": first["refresh_token"]}))
    assert set(second) == {"access_token", "refresh_token", "expires_in", "expires_at", "token_type"}
    assert second["expires_in"] == 3600 and second["expires_at"] == int((now + timedelta(hours=1)).timestamp())
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    replay = balances(api, second["access_token"])  # the SDK's replay of the refused call
    assert replay.status_code == 200 and replay.json()["tokenization"] is True
    third = ok(auth(api, "refresh", {"refresh_token": second["refresh_token"]}))
    assert balances(api, second["access_token"]).status_code == 200  # older access tokens live out their hour
    # A reuse of a rotated token is refused and ends the session: the newest refresh token dies too.
    resp = auth(api, "refresh", {"refresh_token": first["refresh_token"]})
    assert error_of(resp) == (401, "invalid_refresh_token") and resp.json()["error"] == "refresh_failed"
    assert error_of(auth(api, "refresh", {"refresh_token": third["refresh_token"]})) == (401, "invalid_refresh_token")
    assert error_of(auth(api, "refresh", {"refresh_token": "emu_rt_unknown"})) == (401, "invalid_refresh_token")
    assert error_of(auth(api, "refresh", {})) == (400, "invalid_request")


def test_sign_out_ends_only_its_session(api: Api, control: ControlClient, no_confirmation: None) -> None:
    one = ok(auth(api, "email/signup", {"email": "max@example.com", "password": PASSWORD}))
    two = ok(auth(api, "email/signin", {"email": "max@example.com", "password": PASSWORD}))
    assert error_of(auth(api, "signout")) == (401, "authorization_required")
    assert ok(auth(api, "signout", bearer=one["access_token"])) == {"ok": True}
    assert error_of(balances(api, one["access_token"])) == (401, "invalid_token")
    assert error_of(auth(api, "refresh", {"refresh_token": one["refresh_token"]})) == (401, "invalid_refresh_token")
    assert error_of(auth(api, "signout", bearer=one["access_token"])) == (401, "invalid_token")
    assert balances(api, two["access_token"]).status_code == 200
    assert ok(auth(api, "refresh", {"refresh_token": two["refresh_token"]}))


def test_revoke_all_ends_every_refresh_token(api: Api, control: ControlClient, no_confirmation: None) -> None:
    frozen(control)
    one = ok(auth(api, "email/signup", {"email": "ned@example.com", "password": PASSWORD}))
    two = ok(auth(api, "email/signin", {"email": "ned@example.com", "password": PASSWORD}))
    other = ok(auth(api, "email/signup", {"email": "ona@example.com", "password": PASSWORD}))
    assert error_of(auth(api, "revoke-all")) == (401, "authorization_required")
    assert ok(auth(api, "revoke-all", bearer=two["access_token"])) == {"ok": True}
    for signed in (one, two):
        assert error_of(auth(api, "refresh", {"refresh_token": signed["refresh_token"]})) == (
            401, "invalid_refresh_token")
        assert balances(api, signed["access_token"]).status_code == 200  # lives out its hour
    control.clock.advance(minutes=61)
    assert error_of(balances(api, one["access_token"])) == (401, "invalid_token")
    assert ok(auth(api, "refresh", {"refresh_token": other["refresh_token"]}))  # another user is untouched
    # A new sign-in after the revocation works.
    assert ok(auth(api, "email/signin", {"email": "ned@example.com", "password": PASSWORD}))


def test_control_minted_tokens_work_with_the_bearer_routes(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="pam@example.com")
    assert ok(auth(api, "password/update", {"password": "pam-password"}, bearer=token))["user"]["email"] == (
        "pam@example.com")
    assert ok(auth(api, "email/signin", {"email": "pam@example.com", "password": "pam-password"}))
    assert ok(auth(api, "revoke-all", bearer=token)) == {"ok": True}
    assert ok(auth(api, "signout", bearer=token)) == {"ok": True}
    assert error_of(user_state_raw(api, token)) == (401, "invalid_token")


def user_state_raw(api: Api, token: str) -> requests.Response:
    return api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state", bearer=token)


# ---------------------------------------------------------------- anonymous users


def test_anonymous_sign_in_is_refused_where_disabled(api: Api, control: ControlClient) -> None:
    users_before = len(control.state()["monetize"]["users"])
    assert error_of(auth(api, "anonymous/signin", {}, paywall=PADDLE_PW)) == (403, "anonymous_disabled")
    assert len(control.state()["monetize"]["users"]) == users_before


def test_anonymous_sign_in_and_resume(api: Api, control: ControlClient) -> None:
    signed = ok(auth(api, "anonymous/signin", {"captcha_token": "ignored", "user_meta": {"k": "v"}}))
    assert signed["user"]["email"] is None and signed["user"]["is_anonymous"] is True
    ok(auth(api, "anonymous/signin"))  # no body at all
    assert user_state(api, signed["access_token"])["has_active_subscription"] is False
    resumed = ok(auth(api, "refresh", {"refresh_token": signed["refresh_token"]}))
    assert me(api, resumed["access_token"])["id"] == signed["user"]["id"]


def test_upgrade_without_confirmation_keeps_the_id_and_balances(api: Api, control: ControlClient,
                                                                 no_confirmation: None) -> None:
    anon = ok(auth(api, "anonymous/signin", paywall=TOKEN_PW))
    token = anon["access_token"]
    start = {b["type"]: b["count"] for b in ok(balances(api, token))["balances"]}
    assert start == {"standard": 10, "advanced": 2, "free": 0}  # the daily-trial allowance of a new link
    assert ok(api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY, json={
        "user_id": anon["user"]["id"], "type": "standard", "amount": 90, "op": "credit"}))["count"] == 100
    assert error_of(auth(api, "anonymous/upgrade", {"email": "alice@example.com", "password": PASSWORD},
                         paywall=TOKEN_PW, bearer=token)) == (422, "email_exists")
    assert error_of(auth(api, "anonymous/upgrade", {"email": "quin@example.com", "password": "abc"},
                         paywall=TOKEN_PW, bearer=token)) == (422, "weak_password")
    assert error_of(auth(api, "anonymous/upgrade", {"email": "quin@example.com", "password": PASSWORD},
                         paywall=TOKEN_PW)) == (401, "authorization_required")
    body = ok(auth(api, "anonymous/upgrade", {"email": "quin@example.com", "password": PASSWORD},
                   paywall=TOKEN_PW, bearer=token))
    assert body == {"status": "updated", "user": {"id": anon["user"]["id"], "email": "quin@example.com",
                                                  "country": "US", "name": None, "avatar": None,
                                                  "is_anonymous": False}}
    assert ok(auth(api, "anonymous/upgrade", {"email": "quin@example.com", "password": PASSWORD},
                   paywall=TOKEN_PW, bearer=token))["status"] == "updated"  # a repeat answers the same
    assert error_of(auth(api, "anonymous/upgrade", {"email": "other@example.com", "password": PASSWORD},
                         paywall=TOKEN_PW, bearer=token)) == (400, "not_anonymous")
    assert ok(auth(api, "signout", paywall=TOKEN_PW, bearer=token))
    again = ok(auth(api, "email/signin", {"email": "quin@example.com", "password": PASSWORD}, paywall=TOKEN_PW))
    assert again["user"]["id"] == anon["user"]["id"]
    counts = {b["type"]: b["count"] for b in ok(balances(api, again["access_token"]))["balances"]}
    assert counts["standard"] == 100


def test_upgrade_with_confirmation_waits_for_the_link(api: Api, control: ControlClient) -> None:
    anon = ok(auth(api, "anonymous/signin"))
    token = anon["access_token"]
    body = ok(auth(api, "anonymous/upgrade", {"email": "Rae@example.com", "password": PASSWORD}, bearer=token))
    assert body == {"status": "confirmation_required", "email": "Rae@example.com"}
    [mail] = control.mailbox("rae@example.com")
    assert mail["kind"] == "email_change" and mail["link"].startswith(f"{api.base_url}/paywall/auth/confirm?")
    assert me(api, token)["email"] is None  # still anonymous
    assert error_of(auth(api, "email/signin", {"email": "rae@example.com", "password": PASSWORD})) == (
        400, "email_not_confirmed")
    # Someone else cannot take the address meanwhile.
    assert error_of(auth(api, "email/signup", {"email": "rae@example.com", "password": PASSWORD})) == (
        422, "email_exists")
    assert error_of(auth(api, "email/resend", {"email": "rae@example.com"})) == (429, "over_email_send_rate_limit")
    page = api.session.get(mail["link"], timeout=30)
    assert page.status_code == 200 and "rae@example.com" in page.text
    signed = ok(auth(api, "email/signin", {"email": "rae@example.com", "password": PASSWORD}))
    assert signed["user"]["id"] == anon["user"]["id"] and signed["user"]["is_anonymous"] is False
    assert me(api, token)["email"] == "rae@example.com"  # the same user, tokens not rotated


# ---------------------------------------------------------------- the whole story


def complete_checkout(api: Api, control: ControlClient, token: str, price: str = "102") -> str:
    # The body's e-mail is required by the schema and ignored on the Bearer path (the token's user buys).
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", bearer=token,
                    headers={"Idempotency-Key": f"idem-{price}-{token[-6:]}"},
                    json={"priceId": price, "email": "checkout.form@example.com"})
    assert resp.status_code == 200, resp.text
    control.complete_checkout(resp.json())
    return str(resp.json()["checkoutUrl"])


def purchases(api: Api, token: str) -> list[dict[str, Any]]:
    body = ok(api.get(f"/api/v1/paywall/{STRIPE_PW}/user", bearer=token))
    found: list[dict[str, Any]] = body["purchases"]
    return found


def test_anonymous_purchase_upgrade_sign_out_sign_in_keeps_user_and_purchases(api: Api,
                                                                              control: ControlClient) -> None:
    anon = ok(auth(api, "anonymous/signin"))
    user_id, token = anon["user"]["id"], anon["access_token"]
    complete_checkout(api, control, token)
    assert user_state(api, token)["has_active_subscription"] is True
    [bought] = purchases(api, token)
    upgrade = ok(auth(api, "anonymous/upgrade", {"email": "sam@example.com", "password": PASSWORD}, bearer=token))
    assert upgrade["status"] == "confirmation_required"
    assert api.session.get(control.mailbox("sam@example.com")[0]["link"], timeout=30).status_code == 200
    assert ok(auth(api, "signout", bearer=token)) == {"ok": True}
    assert error_of(user_state_raw(api, token)) == (401, "invalid_token")
    signed = ok(auth(api, "email/signin", {"email": "sam@example.com", "password": PASSWORD}))
    assert signed["user"]["id"] == user_id and signed["user"]["email"] == "sam@example.com"
    assert user_state(api, signed["access_token"])["has_active_subscription"] is True
    assert me(api, signed["access_token"])["email"] == "sam@example.com"
    assert purchases(api, signed["access_token"]) == [bought]


def test_an_expired_token_is_refreshed_and_the_call_replayed(api: Api, control: ControlClient) -> None:
    """What the SDK does on a 401 with a Bearer: refresh, then replay once with the new token."""
    frozen(control)
    anon = ok(auth(api, "anonymous/signin"))
    control.clock.advance(hours=2)
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", bearer=anon["access_token"],
                    json={"priceId": 102, "email": "checkout.form@example.com"})
    assert error_of(resp) == (401, "invalid_token")
    assert not control.state()["monetize"]["checkouts"]  # refused before any work
    fresh = ok(auth(api, "refresh", {"refresh_token": anon["refresh_token"]}))
    replay = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", bearer=fresh["access_token"],
                      json={"priceId": 102, "email": "checkout.form@example.com"})
    assert replay.status_code == 200 and len(control.state()["monetize"]["checkouts"]) == 1


def test_visitor_id_moves_guest_purchases_to_the_signed_in_user(api: Api, control: ControlClient,
                                                               no_confirmation: None) -> None:
    visitor = "v" * 8 + "0123456789abcdef"
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", json={
        "email": "guest.buyer@example.com", "priceId": 103, "visitorId": visitor})
    assert resp.status_code == 200, resp.text
    control.complete_checkout(resp.json())
    other = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", json={
        "email": "someone.else@example.com", "priceId": 102, "visitorId": "w" * 24})
    control.complete_checkout(other.json())
    short = ok(auth(api, "email/signup", {"email": "tia@example.com", "password": PASSWORD,
                                          "visitor_id": "short"}))
    assert purchases(api, short["access_token"]) == []
    signed = ok(auth(api, "email/signin", {"email": "tia@example.com", "password": PASSWORD,
                                           "visitor_id": visitor}))
    [moved] = purchases(api, signed["access_token"])
    assert moved["interval"] == "lifetime" and moved["unit_amount"] == 19900 and moved["status"] == "paid"
    guest = ok(api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY,
                       params={"email": "guest.buyer@example.com"}))
    assert guest["purchases"] == [] and guest["paid"] is False
    assert user_state(api, signed["access_token"])["has_active_subscription"] is True
    still = ok(api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY,
                       params={"email": "someone.else@example.com"}))
    assert len(still["purchases"]) == 1  # another visitor's purchase stays


def test_the_tokens_a_guest_purchase_granted_move_with_it(api: Api, control: ControlClient,
                                                           no_confirmation: None) -> None:
    frozen(control)  # one day: the daily trial top-up (10 standard, 2 advanced) happens once
    visitor = "t" * 8 + "0123456789abcdef"
    resp = api.post(f"/api/v1/paywall/{TOKEN_PW}/start-checkout", json={
        "email": "guest.tokens@example.com", "priceId": 401, "visitorId": visitor})
    assert resp.status_code == 200, resp.text
    control.complete_checkout(resp.json())  # a monthly plan: 1,000 standard and 100 advanced on top of the trial

    def counts(email: str) -> dict[str, int]:
        body = ok(balances(api, control.mint_token(TOKEN_PW, email=email)))
        return {row["type"]: row["count"] for row in body["balances"] if row["type"] != "free"}

    assert counts("guest.tokens@example.com") == {"standard": 1010, "advanced": 102}
    spent = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY, json={
        "email": "guest.tokens@example.com", "type": "advanced", "amount": 60, "op": "debit"})
    assert spent.status_code == 200, spent.text  # the guest used some before signing in: 42 advanced left
    signed = ok(auth(api, "email/signup", {"email": "owner.tokens@example.com", "password": PASSWORD,
                                           "visitor_id": visitor}, paywall=TOKEN_PW))
    # The grant moves as far as the guest still holds it (all 1,000 standard; 42 of the 100 advanced);
    # each keeps its own daily trial.
    assert counts("owner.tokens@example.com") == {"standard": 1010, "advanced": 44}
    assert counts("guest.tokens@example.com") == {"standard": 10, "advanced": 0}
    rows = ok(balances(api, signed["access_token"]))["balances"]
    assert {r["type"]: r["count"] for r in rows if r["type"] != "free"} == {"standard": 1010, "advanced": 44}


# ---------------------------------------------------------------- the mailbox


def test_the_mailbox_is_newest_first_and_filtered(api: Api, control: ControlClient) -> None:
    frozen(control)
    ok(auth(api, "otp/send", {"email": "uma@example.com"}))
    control.clock.advance(seconds=5)
    ok(auth(api, "otp/send", {"email": "vic@example.com"}))
    control.clock.advance(seconds=5)
    ok(auth(api, "otp/send", {"email": "UMA@example.com"}))
    everything = control.mailbox()
    assert [m["to"] for m in everything] == ["UMA@example.com", "vic@example.com", "uma@example.com"]
    assert [m["to"] for m in control.mailbox("Uma@Example.com")] == ["UMA@example.com", "uma@example.com"]
    old, new = control.mailbox("uma@example.com")[1], control.mailbox("uma@example.com")[0]
    assert error_of(auth(api, "otp/verify", {"email": "uma@example.com", "token": old["code"]}))[1] in (
        "invalid_otp",) or old["code"] == new["code"]
    control.reset()
    assert control.mailbox() == []


def test_pages_are_ascii_and_self_contained(api: Api, control: ControlClient) -> None:
    ok(auth(api, "email/signup", {"email": "wyn@example.com", "password": PASSWORD}))
    link = control.mailbox("wyn@example.com")[0]["link"]
    ok(auth(api, "password/request-reset", {"email": "wyn@example.com"}))
    reset = control.mailbox("wyn@example.com")[0]["link"]
    for url in (f"{api.base_url}/paywall/v3/auth/callback?code=abc", link, reset,
                f"{api.base_url}/paywall/auth/confirm?token=%3Cscript%3E"):
        resp = api.session.get(url, timeout=30)
        assert resp.headers["Content-Type"].startswith("text/html")
        resp.content.decode("ascii")
        assert " src=" not in resp.text and "http://" not in resp.text and "https://" not in resp.text
    # What the page echoes is escaped: the reset form shows the posted token again next to the reason.
    echoed = api.post("/paywall/auth/reset", data={"token": '"><script>alert(1)</script>', "password": "ab"})
    assert echoed.status_code == 400 and "<script>alert" not in echoed.text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in echoed.text


def test_world_auth_switches_are_checked(emu: ThreadedEmulator) -> None:
    doc = bundled()
    bad = copy.deepcopy(doc)
    bad["monetize"]["paywalls"][0]["auth"] = {"email_confirmation": "yes"}
    with pytest.raises(Exception) as info:
        emu.control.load_world(bad)
    assert "email_confirmation" in str(getattr(info.value, "body", info.value))
    bad = copy.deepcopy(doc)
    bad["monetize"]["users"][0]["password"] = 12345
    with pytest.raises(Exception) as info:
        emu.control.load_world(bad)
    emu.restore()


def test_sign_in_state_survives_a_saved_world(tmp_path: Path) -> None:
    """`serve --state`: accounts, sessions, refresh tokens, codes, the mailbox and OAuth flows are saved."""
    state = tmp_path / "world.json"
    with ThreadedEmulator(EmulatorConfig(state_file=state)) as emu:
        api = Api(emu.base_url)
        signed = ok(auth(api, "anonymous/signin"))
        ok(auth(api, "anonymous/upgrade", {"email": "xan@example.com", "password": PASSWORD},
                bearer=signed["access_token"]))
        ok(auth(api, "oauth/init", {"provider": "google", "code_challenge": "c" * 43,
                                    "code_challenge_method": "s256"}))
        assert api.post("/_emulator/snapshot").json()["saved"] is True
        mailbox = emu.control.mailbox()
    with ThreadedEmulator(EmulatorConfig(state_file=state)) as emu:
        api = Api(emu.base_url)
        assert emu.control.mailbox() == mailbox
        assert api.session.get(mailbox[0]["link"].replace(mailbox[0]["link"].split("/paywall")[0], api.base_url),
                               timeout=30).status_code == 200
        again = ok(auth(api, "email/signin", {"email": "xan@example.com", "password": PASSWORD}))
        assert again["user"]["id"] == signed["user"]["id"]
        assert ok(auth(api, "refresh", {"refresh_token": signed["refresh_token"]}))


def test_user_meta_and_the_mailbox_show_in_the_state_dump_and_the_inspector(api: Api, control: ControlClient) -> None:
    """`user_meta` given at sign-up, code sign-in or anonymous sign-in is kept on the account (merged, later
    keys win); the state dump and the inspector page list the accounts (never a password hash) and the
    mailbox with its codes."""
    body = ok(auth(api, "email/signup", {"email": "yan@example.com", "password": PASSWORD,
                                         "user_meta": {"plan": "pro", "src": "signup"}}))
    code = control.mailbox("yan@example.com")[0]["code"]
    ok(auth(api, "otp/verify", {"email": "yan@example.com", "token": code, "user_meta": {"src": "verify"}}))
    anon = ok(auth(api, "anonymous/signin", {"user_meta": {"ref": "ad-42"}}))
    dump = control.state()["monetize"]
    accounts = {a["user_id"]: a for a in dump["accounts"]}
    yan = accounts[body["user"]["id"]]
    assert yan["user_meta"] == {"plan": "pro", "src": "verify"}
    assert yan["has_password"] is True and yan["confirmed"] is True and yan["anonymous"] is False
    assert accounts[anon["user"]["id"]]["user_meta"] == {"ref": "ad-42"}
    assert accounts[anon["user"]["id"]]["anonymous"] is True and accounts[anon["user"]["id"]]["has_password"] is False
    assert "password_hash" not in str(dump["accounts"])
    [mail] = dump["mailbox"]
    assert mail["to"] == "yan@example.com" and mail["code"] == code and mail["kind"] == "signup_confirmation"
    page = api.get("/_emulator/")
    assert page.status_code == 200
    mailbox = page.text.split('data-table="mailbox"')[1].split("</table>")[0]
    assert f'data-row="{mail["id"]}"' in mailbox and f"<td>{code}</td>" in mailbox
    accounts_table = page.text.split('data-table="accounts"')[1].split("</table>")[0]
    assert "yan@example.com" in accounts_table and "&quot;plan&quot;:&quot;pro&quot;" in accounts_table


def _sign_in_by(api: Api, control: ControlClient, how: str, visitor: str) -> dict[str, Any]:
    """Sign a new person in through one of the five routes that carry `visitor_id`."""
    if how == "email/signup":
        return ok(auth(api, how, {"email": "zed@example.com", "password": PASSWORD, "visitor_id": visitor}))
    if how == "otp/verify":
        ok(auth(api, "otp/send", {"email": "zed@example.com"}))
        code = control.mailbox("zed@example.com")[0]["code"]
        return ok(auth(api, how, {"email": "zed@example.com", "token": code, "visitor_id": visitor}))
    if how == "anonymous/signin":
        return ok(auth(api, how, {"visitor_id": visitor}))
    code = code_of(press(api, init(api), "approve", email="zed@example.com"))
    return ok(exchange(api, code, visitor_id=visitor))


@pytest.mark.parametrize("how", ["email/signup", "otp/verify", "anonymous/signin", "oauth/exchange"])
def test_every_sign_in_route_takes_over_the_visitors_guest_purchases(api: Api, control: ControlClient,
                                                                      no_confirmation: None, how: str) -> None:
    visitor = "pw-visitor-0123456789abcdef"
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", json={
        "email": "guest.buyer@example.com", "priceId": 102, "visitorId": visitor})
    control.complete_checkout(resp.json())
    signed = _sign_in_by(api, control, how, visitor)
    [moved] = purchases(api, signed["access_token"])
    assert moved["status"] == "active" and moved["unit_amount"] == 9900
    assert user_state(api, signed["access_token"])["has_active_subscription"] is True
    guest = ok(api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY, params={"email": "guest.buyer@example.com"}))
    assert guest["purchases"] == []


def test_a_double_clicked_resend_under_one_idempotency_key_is_ok_once(api: Api, control: ControlClient) -> None:
    """The SDK passes the host's `Idempotency-Key` on resend against a double click: the repeat answers ok
    (not 429) and mails nothing; the same key for another address is a 409."""
    frozen(control)
    ok(auth(api, "email/signup", {"email": "abe@example.com", "password": PASSWORD}))
    control.clock.advance(seconds=61)
    key = {"Idempotency-Key": "resend-abe-1"}
    path = f"/api/v1/paywall/{STRIPE_PW}/auth/email/resend"
    assert ok(api.post(path, json={"email": "abe@example.com"}, headers=key)) == {"ok": True}
    assert ok(api.post(path, json={"email": "ABE@example.com"}, headers=key)) == {"ok": True}  # the double click
    assert len(control.mailbox("abe@example.com")) == 2
    assert error_of(api.post(path, json={"email": "abe@example.com"})) == (429, "over_email_send_rate_limit")
    assert error_of(api.post(path, json={"email": "other@example.com"}, headers=key)) == (
        409, "idempotency_key_reused")
    assert error_of(api.post(path, json={"email": "abe@example.com"}, headers={"Idempotency-Key": "resend-abe-2"})) == (
        429, "over_email_send_rate_limit")  # a new key is a new request
    control.clock.advance(hours=25)
    assert ok(api.post(path, json={"email": "other@example.com"}, headers=key)) == {"ok": True}  # key forgotten


def test_a_double_clicked_sign_up_under_one_idempotency_key_signs_in_again(api: Api, control: ControlClient,
                                                                         no_confirmation: None) -> None:
    path = f"/api/v1/paywall/{STRIPE_PW}/auth/email/signup"
    key = {"Idempotency-Key": "signup-bo-1"}
    first = ok(api.post(path, json={"email": "bo@example.com", "password": PASSWORD}, headers=key))
    again = ok(api.post(path, json={"email": "bo@example.com", "password": PASSWORD}, headers=key))
    assert first["status"] == again["status"] == "signed_in" and again["user"] == first["user"]
    assert me(api, again["access_token"])["id"] == first["user"]["id"]
    assert error_of(api.post(path, json={"email": "bo@example.com", "password": PASSWORD})) == (422, "email_exists")
    assert error_of(api.post(path, json={"email": "bo@example.com", "password": "other-password"}, headers=key)) == (
        409, "idempotency_key_reused")
    users = [u for u in control.state()["monetize"]["users"] if u["email"] == "bo@example.com"]
    assert len(users) == 1
