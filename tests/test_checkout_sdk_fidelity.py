"""start-checkout as the official SDK and the REST reference use it: retries whose bodies differ only in
the SDK's attribution fields replay the first answer (other differences stay a 409), the Bearer path
needs no `email`, `__SESSION__` in the return URLs becomes the session id (fragment markers kept), and
the return URLs default to `settings.success_redirect_url` where the paywall has one."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from paywall_emulator.products.monetize.state import store_of
from paywall_emulator.testing import ControlClient, ThreadedEmulator
from tests.worlds import monetize_section

from .conftest import ACME_KEY, PADDLE_PW, STRIPE_PW, TOKEN_PW, Api, error_of

SDK_HEADERS = {"Accept": "application/json", "X-SDK-Version": "3.5.1", "X-Paywall-Id": STRIPE_PW}
VISITOR_A = "0b5f9c1e-3a57-4d8e-9f0a-6c2d1e4b7a90"
VISITOR_B = "7d4e2f10-8b6c-4a3d-b1e9-2f5a6c7d8e01"


def sdk_body(**attribution: str) -> dict[str, Any]:
    """The body BillingClient.createCheckout sends for `setIdentity({email, userId})` on paywall 3 with
    its settings filled in (successUrl, shopUrl, productName from bootstrap, the price's local currency),
    plus whatever attribution the client had resolved by then."""
    return {"email": "retry@example.com", "priceId": 101, "successUrl": "https://app.example.com/success",
            "shopUrl": "https://app.example.com/pricing", "productName": "Acme Pro",
            "userMeta": {"userId": "u_42"}, "localCurrency": "EUR", **attribution}


def sdk_post(api: Api, body: Any, key: str, *, bearer: str | None = None, api_key: str | None = ACME_KEY,
             paywall: str = STRIPE_PW) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/start-checkout", key=api_key, bearer=bearer, json=body,
                    headers={**SDK_HEADERS, "X-Paywall-Id": paywall, "Idempotency-Key": key})


def checkouts(control: ControlClient) -> list[dict[str, Any]]:
    return list(control.state()["monetize"]["checkouts"])


# --- 1. idempotent retries from the official SDK ---------------------------------------------------


@pytest.mark.parametrize(("first", "retry"), [
    ({}, {"visitorId": VISITOR_A}),  # the first attempt left before the visitor id resolved
    ({"visitorId": VISITOR_A}, {"visitorId": VISITOR_B}),  # a fresh BillingClient per request
    ({"visitorId": VISITOR_A}, {}),
    ({"visitorId": VISITOR_A, "experimentId": "exp_1", "variantKey": "a"},
     {"visitorId": VISITOR_B, "experimentId": "exp_1", "variantKey": "b"}),
    ({"visitorId": VISITOR_A}, {"visitorId": VISITOR_A, "experimentId": "exp_2", "variantKey": "control"}),
])
def test_a_retry_differing_only_in_attribution_replays_the_first_answer(
        api: Api, control: ControlClient, first: dict[str, str], retry: dict[str, str]) -> None:
    one = sdk_post(api, sdk_body(**first), "idem-sdk-1")
    assert one.status_code == 200, one.text
    before = control.state()
    again = sdk_post(api, sdk_body(**retry), "idem-sdk-1")
    assert again.status_code == 200, again.text
    assert again.json() == one.json()
    assert control.state() == before  # no second session, user or link
    session = checkouts(control)[-1]
    assert session["url"] == one.json()["checkoutUrl"]


def test_a_replay_keeps_the_first_attempts_attribution(api: Api, emu: ThreadedEmulator) -> None:
    sdk_post(api, sdk_body(visitorId=VISITOR_A, experimentId="exp_1", variantKey="a"), "idem-meta")
    sdk_post(api, sdk_body(visitorId=VISITOR_B), "idem-meta")
    store = store_of(emu.world)
    (session,) = [s for s in store.checkouts.values() if store.users[s.user_id].email == "retry@example.com"]
    assert session.meta == {"visitorId": VISITOR_A, "experimentId": "exp_1", "variantKey": "a",
                            "localCurrency": "EUR"}


@pytest.mark.parametrize("change", [
    {"priceId": 102},
    {"email": "someone.else@example.com"},
    {"successUrl": "https://app.example.com/other-success"},
    {"errorUrl": "https://app.example.com/failed"},
    {"shopUrl": "https://app.example.com/shop"},
    {"userMeta": {"userId": "u_43"}},
    {"localCurrency": "USD"},
    {"offerId": "501"},
    {"trial_days": 3},
    {"ignoreActivePurchase": True},
])
def test_a_retry_with_another_price_identity_or_url_is_still_409(
        api: Api, control: ControlClient, change: dict[str, Any]) -> None:
    assert sdk_post(api, sdk_body(visitorId=VISITOR_A), "idem-409").status_code == 200
    before = control.state()
    resp = sdk_post(api, {**sdk_body(visitorId=VISITOR_B), **change}, "idem-409")
    assert error_of(resp) == (409, "idempotency_key_reused")
    assert "hasActivePurchase" not in resp.json()
    assert control.state() == before


def test_another_caller_with_the_same_key_and_body_is_409(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="retry@example.com")
    assert sdk_post(api, sdk_body(), "idem-caller").status_code == 200
    resp = sdk_post(api, sdk_body(), "idem-caller", bearer=token, api_key=None)
    assert error_of(resp) == (409, "idempotency_key_reused")


def test_a_numeric_and_a_string_price_id_are_the_same_request(api: Api, control: ControlClient) -> None:
    one = sdk_post(api, sdk_body(visitorId=VISITOR_A), "idem-num")
    again = sdk_post(api, {**sdk_body(visitorId=VISITOR_B), "priceId": "101"}, "idem-num")
    assert again.status_code == 200 and again.json() == one.json()
    assert len(checkouts(control)) == 1


def test_after_the_window_an_attribution_only_retry_starts_a_new_session(api: Api, control: ControlClient) -> None:
    one = sdk_post(api, sdk_body(visitorId=VISITOR_A), "idem-window")
    control.clock.advance(hours=23, minutes=59)
    assert sdk_post(api, sdk_body(visitorId=VISITOR_B), "idem-window").json() == one.json()
    control.clock.advance(minutes=2)
    later = sdk_post(api, sdk_body(visitorId=VISITOR_B), "idem-window")
    assert later.status_code == 200 and later.json()["checkoutUrl"] != one.json()["checkoutUrl"]
    assert len(checkouts(control)) == 2


# --- 3. the Bearer path needs no email -------------------------------------------------------------


def test_bearer_checkout_without_email_uses_the_tokens_user(api: Api, control: ControlClient) -> None:
    token = control.mint_token(PADDLE_PW, email="bearer.buyer@example.com")
    resp = sdk_post(api, {"priceId": 201}, "idem-bearer", bearer=token, api_key=None, paywall=PADDLE_PW)
    assert resp.status_code == 200, resp.text
    users = {u["email"]: u for u in control.state()["monetize"]["users"]}
    assert resp.json()["userId"] == users["bearer.buyer@example.com"]["id"]
    (session,) = checkouts(control)
    assert session["user_id"] == resp.json()["userId"] and session["price_id"] == "201"
    # a retry of the same call replays; an email in the body is still ignored on this path
    assert sdk_post(api, {"priceId": 201}, "idem-bearer", bearer=token, api_key=None,
                    paywall=PADDLE_PW).json() == resp.json()
    other = sdk_post(api, {"priceId": 202, "email": "spoof@example.com"}, "idem-bearer-2", bearer=token,
                     api_key=None, paywall=PADDLE_PW)
    assert other.status_code == 200 and other.json()["userId"] == resp.json()["userId"]
    assert "spoof@example.com" not in {u["email"] for u in control.state()["monetize"]["users"]}
    # ... so a retry that differs only in that ignored email is the same request: it replays, not 409
    again = sdk_post(api, {"priceId": 202, "email": "other.spoof@example.com"}, "idem-bearer-2", bearer=token,
                     api_key=None, paywall=PADDLE_PW)
    assert again.status_code == 200 and again.json() == other.json()
    assert len(checkouts(control)) == 2


def test_bearer_checkout_without_email_still_checks_the_price_and_active_purchase(
        api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")  # alice has an active subscription
    before = control.state()
    stale = sdk_post(api, {"priceId": 100}, "idem-b1", bearer=token, api_key=None)
    assert error_of(stale) == (404, "price_not_found")
    active = sdk_post(api, {"priceId": 101}, "idem-b2", bearer=token, api_key=None)
    assert error_of(active) == (409, "already_purchased") and active.json()["hasActivePurchase"] is True
    assert error_of(sdk_post(api, {"priceId": 101, "email": "bad"}, "idem-b3", bearer=token,
                             api_key=None)) == (400, "invalid_email")
    assert control.state() == before


@pytest.mark.parametrize("api_key", [ACME_KEY, None])
@pytest.mark.parametrize("price", [101, 999, None])
def test_without_bearer_a_missing_email_is_400_before_the_price(
        api: Api, control: ControlClient, api_key: str | None, price: Any) -> None:
    before = control.state()
    resp = sdk_post(api, {"priceId": price}, f"idem-noemail-{price}", api_key=api_key)
    assert error_of(resp) == (400, "missing_parameters")
    assert resp.json()["error"] == "Missing required parameters: email, priceId"
    assert control.state() == before


# --- 4. __SESSION__ in the return URLs ----------------------------------------------------------------


def start(api: Api, body: dict[str, Any], *, paywall: str = PADDLE_PW) -> dict[str, Any]:
    resp = api.post(f"/api/v1/paywall/{paywall}/start-checkout", key=ACME_KEY, json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def split_markers(url: str) -> tuple[str, dict[str, list[str]]]:
    base, _, fragment = url.partition("#")
    head, _, markers = fragment.rpartition("paywall_status=")
    return f"{base}#{head}", parse_qs("paywall_status=" + markers)


def test_session_placeholder_in_the_success_url_becomes_the_session_id(api: Api, control: ControlClient) -> None:
    answer = start(api, {"email": "s1@example.com", "priceId": 201,
                         "successUrl": "https://app.example.com/success?session=__SESSION__"})
    session_id = control.checkout_session_id(answer)
    row = control.request("GET", f"/checkouts/{session_id}")
    assert row["success_url"] == f"https://app.example.com/success?session={session_id}"
    redirect = control.complete_checkout(answer)["redirect_url"]
    assert redirect == (f"https://app.example.com/success?session={session_id}#paywall_status=paid"
                        f"&paywall_price_id=201&paywall_session_id={session_id}")


@pytest.mark.parametrize("action", ["decline", "cancel"])
def test_session_placeholder_everywhere_in_the_error_url_keeps_the_fragment(
        api: Api, control: ControlClient, action: str) -> None:
    answer = start(api, {"email": f"s-{action}@example.com", "priceId": 201,
                         "successUrl": "https://app.example.com/__SESSION__/ok",
                         "errorUrl": "https://app.example.com/__SESSION__/failed?s=__SESSION__#/retry/__SESSION__"})
    session_id = control.checkout_session_id(answer)
    row = control.request("GET", f"/checkouts/{session_id}")
    assert row["success_url"] == f"https://app.example.com/{session_id}/ok"
    outcome = control.decline_checkout(answer) if action == "decline" else control.cancel_checkout(answer)
    base, markers = split_markers(outcome["redirect_url"])
    assert base == f"https://app.example.com/{session_id}/failed?s={session_id}#/retry/{session_id}&"
    assert markers == {"paywall_status": ["failed" if action == "decline" else "cancelled"],
                       "paywall_price_id": ["201"], "paywall_session_id": [session_id]}
    assert "__SESSION__" not in outcome["redirect_url"]


def test_urls_without_the_placeholder_are_kept_as_given(api: Api, control: ControlClient) -> None:
    answer = start(api, {"email": "s3@example.com", "priceId": 201, "successUrl": "https://app.example.com/__session__",
                         "errorUrl": "https://app.example.com/x?session=SESSION"})
    row = control.request("GET", f"/checkouts/{control.checkout_session_id(answer)}")
    assert row["success_url"] == "https://app.example.com/__session__"
    assert row["error_url"] == "https://app.example.com/x?session=SESSION"


# --- 5. (part) where the defaults come from ---------------------------------------------------------------


def test_defaults_come_from_success_redirect_url_where_the_paywall_has_one(
        api: Api, control: ControlClient, emu: ThreadedEmulator) -> None:
    section = monetize_section()
    paywalls = {p["id"]: p for p in section["paywalls"]}
    paywalls[TOKEN_PW]["success_redirect_url"] = "https://chat.example.com/done?s=__SESSION__"
    control.load_world({"monetize": section})
    # paywall 15: both URLs default to its success_redirect_url, placeholder filled in
    answer = start(api, {"email": "d1@example.com", "priceId": 401}, paywall=TOKEN_PW)
    sid = control.checkout_session_id(answer)
    row = control.request("GET", f"/checkouts/{sid}")
    assert row["success_url"] == row["error_url"] == f"https://chat.example.com/done?s={sid}"
    # an explicit shopUrl still comes first for the way back after a failure
    answer = start(api, {"email": "d2@example.com", "priceId": 401, "shopUrl": "https://chat.example.com/shop"},
                   paywall=TOKEN_PW)
    row = control.request("GET", f"/checkouts/{control.checkout_session_id(answer)}")
    assert row["error_url"] == "https://chat.example.com/shop"
    # paywall 7 has none: the emulator's own pages
    answer = start(api, {"email": "d3@example.com", "priceId": 201})
    row = control.request("GET", f"/checkouts/{control.checkout_session_id(answer)}")
    assert row["success_url"] == f"{emu.base_url}/paywall/{PADDLE_PW}/checkout/success"
    assert row["error_url"] == f"{emu.base_url}/paywall/{PADDLE_PW}/checkout/error"
