"""Sign-in for the browser SDK (`/auth/*`, E12) and its pages (E13): answer shapes and machine codes.
Read-only runs only fetch the pages; every `/auth/*` call is a POST, so it needs `--allow-writes` (and
signs up only run-tagged addresses). Tests that read the e-mailed code or drive the OAuth provider page
need the emulator's control API (`emulator_only`)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from paywall_emulator.contract_tests.client import Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.settings import Settings

PASSWORD = "conform-password-1"
VERIFIER = "c" * 86


def auth_path(paywall_id: str, route: str) -> str:
    return f"/api/v1/paywall/{paywall_id}/auth/{route}"


def post(api: Api, settings: Settings, route: str, body: Any = None, *, bearer: str | None = None) -> Any:
    return api.post(auth_path(settings.paywall_id, route), key=None, bearer=bearer, json=body)


def assert_token_set(body: dict[str, Any]) -> None:
    assert isinstance(body["access_token"], str) and isinstance(body["refresh_token"], str), body
    assert body["token_type"] == "bearer" and isinstance(body["expires_in"], int) and body["expires_in"] > 60, body
    assert body["expires_at"] is None or isinstance(body["expires_at"], int), body


# ---------------------------------------------------------------- read-only: the pages


def test_the_oauth_callback_page_posts_to_the_opener(api: Api) -> None:
    resp = api.get("/paywall/v3/auth/callback", key=None, params={"code": "conform"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html"), resp.text[:300]
    assert "postMessage" in resp.text and "pw-oauth" in resp.text


def test_a_confirmation_link_with_an_unknown_token_is_refused(api: Api, settings: Settings) -> None:
    resp = api.get("/paywall/v3/auth/confirm", key=None, params={"token": f"conform-{settings.run_id}-unknown"})
    assert resp.status_code == 400 and resp.headers["Content-Type"].startswith("text/html"), resp.text[:300]


def test_a_reset_link_with_an_unknown_token_is_refused(api: Api, settings: Settings) -> None:
    resp = api.get("/paywall/auth/reset", key=None, params={"token": f"conform-{settings.run_id}-unknown"})
    assert resp.status_code == 400 and resp.headers["Content-Type"].startswith("text/html"), resp.text[:300]


# ---------------------------------------------------------------- writes: answers that need no mailbox


@pytest.mark.writes
def test_wrong_credentials(api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    resp = post(api, settings, "email/signin", {"email": new_email("nobody"), "password": PASSWORD})
    expect_error(resp, 400, "invalid_credentials")


@pytest.mark.writes
def test_an_unknown_refresh_token(api: Api, settings: Settings) -> None:
    expect_error(post(api, settings, "refresh", {"refresh_token": f"conform-{settings.run_id}"}), 401,
                 "invalid_refresh_token")


@pytest.mark.writes
def test_a_weak_password(api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    expect_error(post(api, settings, "email/signup", {"email": new_email("weak"), "password": "123"}), 422,
                 "weak_password")


@pytest.mark.writes
def test_the_bearer_routes_need_a_bearer(api: Api, settings: Settings) -> None:
    for route, body in (("signout", None), ("revoke-all", None), ("password/update", {"password": PASSWORD})):
        expect_error(post(api, settings, route, body), 401, "authorization_required")
        expect_error(post(api, settings, route, body, bearer=f"conform-{settings.run_id}"), 401, "invalid_token")


@pytest.mark.writes
def test_sign_up_answers_one_of_its_variants(api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    email = new_email("signup")
    body = expect_ok(post(api, settings, "email/signup", {"email": email, "password": PASSWORD}))
    assert body["status"] in ("confirmation_required", "signed_in"), body
    if body["status"] == "signed_in":
        assert_token_set(body)
        assert body["user"]["email"] == email
        expect_error(post(api, settings, "email/signup", {"email": email, "password": PASSWORD}), 422, "email_exists")
    else:
        assert body["user"]["email"] == email and body["user"]["id"], body
        expect_error(post(api, settings, "email/signin", {"email": email, "password": PASSWORD}), 400,
                     "email_not_confirmed")
    assert expect_ok(post(api, settings, "email/resend", {"email": new_email("unknown")})) == {"ok": True}
    assert expect_ok(post(api, settings, "otp/send", {"email": new_email("otp"), "create_user": False})) == {
        "ok": True}
    assert expect_ok(post(api, settings, "password/request-reset", {"email": new_email("reset")})) == {"ok": True}


@pytest.mark.writes
def test_anonymous_sessions_rotate_and_end(api: Api, settings: Settings) -> None:
    resp = post(api, settings, "anonymous/signin", {})
    if resp.status_code == 403:
        expect_error(resp, 403, "anonymous_disabled")
        return
    first = expect_ok(resp)
    assert_token_set(first)
    assert first["user"]["email"] is None and first["user"]["id"], first
    second = expect_ok(post(api, settings, "refresh", {"refresh_token": first["refresh_token"]}))
    assert_token_set(second)
    assert "user" not in second and second["refresh_token"] != first["refresh_token"]
    expect_error(post(api, settings, "refresh", {"refresh_token": first["refresh_token"]}), 401,
                 "invalid_refresh_token")
    third = expect_ok(post(api, settings, "anonymous/signin", {}))
    assert expect_ok(post(api, settings, "revoke-all", bearer=third["access_token"])) == {"ok": True}
    expect_error(post(api, settings, "refresh", {"refresh_token": third["refresh_token"]}), 401,
                 "invalid_refresh_token")
    expect_ok(post(api, settings, "signout", bearer=third["access_token"]))


@pytest.mark.writes
def test_oauth_init_answers_an_authorize_url(api: Api, settings: Settings) -> None:
    body = expect_ok(post(api, settings, "oauth/init", {
        "provider": "google", "code_challenge": _challenge(VERIFIER), "code_challenge_method": "s256"}))
    assert urlsplit(body["authorize_url"]).scheme in ("http", "https"), body
    expect_error(post(api, settings, "oauth/exchange", {"auth_code": f"conform-{settings.run_id}",
                                                        "code_verifier": VERIFIER}), 400, "flow_state_not_found")


# ---------------------------------------------------------------- the emulator's mailbox and provider page


def _mailbox(control: Control, email: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = control.request("GET", "/mailbox", params={"email": email})["messages"]
    return messages


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.mark.writes
@pytest.mark.emulator_only("the e-mailed code: GET /_emulator/mailbox")
def test_sign_up_confirm_with_the_mailed_code_then_sign_in(api: Api, control: Control, settings: Settings,
                                                           new_email: Callable[[str], str]) -> None:
    email = new_email("mail")
    body = expect_ok(post(api, settings, "email/signup", {"email": email, "password": PASSWORD}))
    assert body["status"] == "confirmation_required", body
    [mail] = _mailbox(control, email)
    expect_error(post(api, settings, "otp/verify", {"email": email, "token": "00000x", "type": "signup"}), 400,
                 "invalid_otp")
    signed = expect_ok(post(api, settings, "otp/verify", {"email": email, "token": mail["code"], "type": "signup"}))
    assert signed["user"]["id"] == body["user"]["id"]
    again = expect_ok(post(api, settings, "email/signin", {"email": email, "password": PASSWORD}))
    assert again["user"]["id"] == body["user"]["id"]
    assert expect_ok(api.get(f"/api/v1/paywall/{settings.paywall_id}/user-state", key=None,
                             bearer=again["access_token"]))["has_active_subscription"] is False


@pytest.mark.writes
@pytest.mark.emulator_only("the recovery code: GET /_emulator/mailbox")
def test_password_recovery_with_the_mailed_code(api: Api, control: Control, settings: Settings,
                                                new_email: Callable[[str], str]) -> None:
    email = new_email("recover")
    expect_ok(post(api, settings, "otp/send", {"email": email}))
    expect_ok(post(api, settings, "otp/verify", {"email": email, "token": _mailbox(control, email)[0]["code"]}))
    expect_ok(post(api, settings, "password/request-reset", {"email": email}))
    mail = _mailbox(control, email)[0]
    assert mail["kind"] == "password_recovery", mail
    session = expect_ok(post(api, settings, "otp/verify", {"email": email, "token": mail["code"], "type": "recovery"}))
    expect_error(post(api, settings, "password/update", {"password": "x"}, bearer=session["access_token"]), 422,
                 "weak_password")
    expect_ok(post(api, settings, "password/update", {"password": PASSWORD}, bearer=session["access_token"]))
    expect_ok(post(api, settings, "email/signin", {"email": email, "password": PASSWORD}))


@pytest.mark.writes
@pytest.mark.emulator_only("the fake OAuth provider page: POST /_emulator/oauth/authorize")
def test_oauth_through_the_provider_page(api: Api, control: Control, settings: Settings,
                                         new_email: Callable[[str], str]) -> None:
    url = expect_ok(post(api, settings, "oauth/init", {
        "provider": "github", "code_challenge": _challenge(VERIFIER), "code_challenge_method": "s256",
    }))["authorize_url"]
    flow = parse_qs(urlsplit(url).query)["flow"][0]
    email = new_email("oauth")
    resp = control.http.post(f"{control.base_url}/_emulator/oauth/authorize", allow_redirects=False, timeout=30,
                             data={"flow": flow, "action": "approve", "name": "Conform", "email": email})
    assert resp.status_code == 303, resp.text[:300]
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    expect_error(post(api, settings, "oauth/exchange", {"auth_code": code, "code_verifier": "d" * 86}), 400,
                 "bad_code_verifier")
    signed = expect_ok(post(api, settings, "oauth/exchange", {"auth_code": code, "code_verifier": VERIFIER}))
    assert signed["user"]["email"] == email and signed["user"]["name"] == "Conform"
