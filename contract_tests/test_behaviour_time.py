"""Rules that depend on time, checked before and after a clock move (emulator only: the clock is moved
through the control API): the daily top-up at the paywall's midnight (raises to the allowance, never
lowers), a Bearer's and a session's hour, an OAuth code's 5 minutes, the once-a-minute resend, and the
bootstrap version (stable across time and identities, `{unchanged: true}` while current)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from paywall_emulator.contract_tests.billing import parse
from paywall_emulator.contract_tests.client import STATE_ALL, Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import adjust, balances, need
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.emulator_only("the clock of the /_emulator control API")
TOKEN_LIFETIME = timedelta(hours=1)  # docs-facts A9: access tokens live 1 h
OAUTH_CODE_LIFETIME = timedelta(minutes=5)  # spec exchangeOAuthCode: a code older than 5 minutes is expired
VERIFIER = "v" * 64


@pytest.fixture
def clock(control: Control) -> Iterator[Control]:
    control.reset()
    try:
        yield control
    finally:
        control.reset()


def _now(control: Control) -> datetime:
    return parse(control.request("GET", "/clock")["now"])


def _advance(control: Control, delta: timedelta) -> None:
    control.request("POST", "/clock/advance", {"seconds": delta.total_seconds()})


def _freeze(control: Control) -> None:
    at = _now(control) + timedelta(seconds=1)
    control.request("POST", "/clock", {"now": at.isoformat().replace("+00:00", "Z")})


def _oauth_code(api: Api, control: Control, settings: Settings, email: str) -> str:
    """A code the fake provider page hands out for `email` (the flow approved now)."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
    url = expect_ok(api.post(f"/api/v1/paywall/{settings.paywall_id}/auth/oauth/init", key=None, json={
        "provider": "google", "code_challenge": challenge, "code_challenge_method": "s256"}))["authorize_url"]
    flow = parse_qs(urlsplit(url).query)["flow"][0]
    resp = control.http.post(f"{control.base_url}/_emulator/oauth/authorize", allow_redirects=False, timeout=30,
                             data={"flow": flow, "action": "approve", "name": "Conform", "email": email})
    assert resp.status_code == 303, resp.text[:300]
    return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]


@pytest.mark.writes
def test_the_daily_top_up_happens_at_midnight_in_the_paywalls_timezone(
        api: Api, clock: Control, settings: Settings) -> None:
    paywall = need(settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    state = clock.request("GET", STATE_ALL)["monetize"]
    zone = ZoneInfo(next(p for p in state["paywalls"] if p["id"] == paywall)["timezone"])
    users = {u["id"]: u["email"] for u in state["users"]}
    rows = [b for b in state["balances"] if b["paywall_id"] == paywall and b["type"] == "standard"]
    spent = next(b for b in rows if b["count"] == 0)  # the seed's user who spent today's allowance
    rich = next(b for b in rows if b["count"] > 10)  # and one above the allowance
    local = _now(clock).astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    _advance(clock, midnight - _now(clock) - timedelta(seconds=1))
    assert balances(api, paywall, spent["user_id"])["standard"] == 0, "topped up before midnight"
    _advance(clock, timedelta(seconds=1))
    after = balances(api, paywall, spent["user_id"])["standard"]
    assert after == 10, f"{users[spent['user_id']]}: standard 0 → {after} after midnight ({zone}), expected 10"
    assert balances(api, paywall, rich["user_id"])["standard"] == rich["count"], "the top-up lowered a balance"
    expect_ok(adjust(api, paywall, spent["user_id"], "standard", 10, "debit"))
    _advance(clock, timedelta(hours=23, minutes=59))
    assert balances(api, paywall, spent["user_id"])["standard"] == 0, "topped up twice in one day"
    _advance(clock, timedelta(days=3))
    assert balances(api, paywall, spent["user_id"])["standard"] == 10, "idle midnights top up once, to the limit"


def test_a_bearer_expires_after_one_hour(api: Api, clock: Control, settings: Settings) -> None:
    paywall = need(settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    email = need(settings.email, "--paywall-email", "an existing user")
    token = clock.mint_token(paywall, email=email)
    _advance(clock, TOKEN_LIFETIME - timedelta(seconds=1))
    expect_ok(api.get(f"/api/v1/paywall/{paywall}/balances", key=None, bearer=token))
    _advance(clock, timedelta(seconds=1))
    expect_error(api.get(f"/api/v1/paywall/{paywall}/balances", key=None, bearer=token), 401, "invalid_token")


def test_the_bootstrap_version_is_stable_and_if_version_short_circuits(
        api: Api, clock: Control, settings: Settings) -> None:
    email = need(settings.email, "--paywall-email", "an existing user with an active purchase")
    path = f"/api/v1/paywall/{settings.paywall_id}/bootstrap"
    full = expect_ok(api.get(path, key=None))
    version = full["version"]
    assert str(version).startswith(f"{settings.paywall_id}:"), f"version {version!r} is not '<paywall_id>:<hash>'"
    _advance(clock, timedelta(days=2))
    assert expect_ok(api.get(path, key=None, headers={"X-User-Email": email}))["version"] == version, \
        "the version changed with time or identity (it is a hash of the structure without the user)"
    short = expect_ok(api.get(path, key=None, params={"if_version": version}, headers={"X-User-Email": email}))
    assert short.get("unchanged") is True and short.get("version") == version, short
    assert short["user"]["has_active_subscription"] is True, f"the short answer's user for {email}: {short['user']}"
    assert "prices" not in short, "the short answer repeated the structure"
    stale = expect_ok(api.get(path, key=None, params={"if_version": f"{settings.paywall_id}:stale"}))
    assert stale.get("unchanged") is not True and stale["version"] == version and stale["prices"], stale


@pytest.mark.writes
def test_a_signed_in_session_token_expires_after_one_hour(api: Api, clock: Control, settings: Settings) -> None:
    auth = f"/api/v1/paywall/{settings.paywall_id}/auth/anonymous/signin"
    resp = api.post(auth, key=None, json={})
    if resp.status_code == 403:
        pytest.skip(f"paywall {settings.paywall_id} does not allow anonymous sign-in")
    tokens = expect_ok(resp)
    assert tokens["expires_in"] == TOKEN_LIFETIME.total_seconds(), f"expires_in {tokens['expires_in']}, expected 3600"
    balances_path = f"/api/v1/paywall/{settings.paywall_id}/balances"
    _advance(clock, TOKEN_LIFETIME - timedelta(seconds=1))
    expect_ok(api.get(balances_path, key=None, bearer=tokens["access_token"]))
    _advance(clock, timedelta(seconds=1))
    expect_error(api.get(balances_path, key=None, bearer=tokens["access_token"]), 401, "invalid_token")
    # The SDK's recovery: refresh (a new pair), then the refused call once more with the new token.
    fresh = expect_ok(api.post(f"/api/v1/paywall/{settings.paywall_id}/auth/refresh", key=None,
                               json={"refresh_token": tokens["refresh_token"]}))
    assert fresh["refresh_token"] != tokens["refresh_token"], "refresh did not rotate the refresh token"
    expect_ok(api.get(balances_path, key=None, bearer=fresh["access_token"]))


@pytest.mark.writes
def test_confirmation_mails_are_resent_at_most_once_a_minute(api: Api, clock: Control, settings: Settings,
                                                             new_email: Callable[[str], str]) -> None:
    base = f"/api/v1/paywall/{settings.paywall_id}/auth"
    email = new_email("resend")
    signup = api.post(f"{base}/email/signup", key=None, json={"email": email, "password": "conform-Secret-42"})
    if expect_ok(signup).get("status") != "confirmation_required":
        pytest.skip("sign-up does not ask for a confirmation on this paywall")
    _advance(clock, timedelta(minutes=1))
    assert expect_ok(api.post(f"{base}/email/resend", key=None, json={"email": email})) == {"ok": True}
    expect_error(api.post(f"{base}/email/resend", key=None, json={"email": email}), 429,
                 "over_email_send_rate_limit")
    _advance(clock, timedelta(minutes=1))
    assert expect_ok(api.post(f"{base}/email/resend", key=None, json={"email": email})) == {"ok": True}



@pytest.mark.writes
def test_an_oauth_code_is_exchanged_within_five_minutes_and_expired_after(
        api: Api, clock: Control, settings: Settings, new_email: Callable[[str], str]) -> None:
    _freeze(clock)
    email = new_email("oauth-ttl")
    first, second = (_oauth_code(api, clock, settings, address) for address in (email, new_email("oauth-ttl")))
    exchange = f"/api/v1/paywall/{settings.paywall_id}/auth/oauth/exchange"
    _advance(clock, OAUTH_CODE_LIFETIME)
    signed = expect_ok(api.post(exchange, key=None, json={"auth_code": first, "code_verifier": VERIFIER}))
    assert signed["user"]["email"] == email, f"a code exactly 5 min old signs in: {signed['user']}"
    _advance(clock, timedelta(seconds=1))
    expect_error(api.post(exchange, key=None, json={"auth_code": second, "code_verifier": VERIFIER}), 400,
                 "flow_state_expired")
