"""POST start-checkout and POST get-customer-portal: required fields, URL checks, price lookup,
the active-purchase 409, Idempotency-Key replay and reuse, the three auth paths, and the portal per
acquirer. Every refused request is checked to have changed nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from paywall_emulator.products.monetize.state import store_of
from paywall_emulator.testing import ControlClient, ThreadedEmulator
from tests.worlds import monetize_section

from .conftest import (
    ACME_KEY,
    ALICE,
    CHARGEBEE_PW,
    FREEMIUS_PW,
    OVERPAY_PW,
    PADDLE_PW,
    RIVAL_KEY,
    RIVAL_PW,
    STRIPE_PW,
    Api,
    error_of,
)

BOB = "b0b00000-0000-4000-8000-000000000002"


def checkout(api: Api, body: Any, *, paywall: str = STRIPE_PW, key: str | None = ACME_KEY,
             idem: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"Idempotency-Key": idem} if idem else {}
    return api.post(f"/api/v1/paywall/{paywall}/start-checkout", key=key, json=body, headers=headers, **kwargs)


def portal(api: Api, body: Any = None, *, paywall: str = STRIPE_PW, key: str | None = ACME_KEY,
           **kwargs: Any) -> requests.Response:
    return api.post(f"/api/v1/paywall/{paywall}/get-customer-portal", key=key, json=body, **kwargs)


def users_by_email(control: ControlClient) -> dict[str, dict[str, Any]]:
    return {u["email"]: u for u in control.state()["monetize"]["users"]}


# --- start-checkout: happy paths ------------------------------------------------------------------


def test_new_buyer_gets_a_hosted_checkout_and_is_linked(api: Api, emu: ThreadedEmulator,
                                                       control: ControlClient) -> None:
    resp = checkout(api, {"email": "new.buyer@example.com", "priceId": "101",
                          "successUrl": "https://app.example.com/ok", "userMeta": {"userId": "ext_new"}})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["acquiring"] == "stripe"
    assert body["checkoutUrl"].startswith(f"{emu.base_url}/_emulator/checkout/cs_test_")
    state = control.state()["monetize"]
    user = users_by_email(control)["new.buyer@example.com"]
    assert body["userId"] == user["id"]
    [link] = [lk for lk in state["links"] if lk["user_id"] == user["id"]]
    assert link["paywall_id"] == STRIPE_PW and link["meta"] == {"userId": "ext_new"}
    [session] = [c for c in state["checkouts"] if c["user_id"] == user["id"]]
    assert session["price_id"] == "101" and session["success_url"] == "https://app.example.com/ok"
    assert session["trial_days"] == 7  # the price's own trial
    assert body["checkoutUrl"].rsplit("/", 1)[-1].startswith(session["id"])


@pytest.mark.parametrize("price_id", [101, "101", 101.0, " 101 "])
def test_price_id_as_number_or_numeric_string(api: Api, price_id: Any) -> None:
    resp = checkout(api, {"email": "n@example.com", "priceId": price_id})
    assert resp.status_code == 200, resp.text


def test_every_acquirer_answers_its_own_name(api: Api) -> None:
    for paywall, price, acquirer in [(PADDLE_PW, "201", "paddle"), (FREEMIUS_PW, "301", "freemius"),
                                     (CHARGEBEE_PW, "601", "chargebee"), (OVERPAY_PW, "701", "overpay")]:
        resp = checkout(api, {"email": f"buyer.{acquirer}@example.com", "priceId": price}, paywall=paywall)
        assert resp.status_code == 200, resp.text
        assert resp.json()["acquiring"] == acquirer


def test_guest_checkout_without_credentials(api: Api, control: ControlClient) -> None:
    resp = checkout(api, {"email": "guest@example.com", "priceId": 102}, key=None)
    assert resp.status_code == 200
    assert resp.json()["userId"] == users_by_email(control)["guest@example.com"]["id"]


def test_bearer_user_wins_over_the_body_email(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="bob@example.com")
    resp = checkout(api, {"email": "mallory@example.com", "priceId": "101"}, key=None, bearer=token)
    assert resp.status_code == 200 and resp.json()["userId"] == BOB
    assert "mallory@example.com" not in users_by_email(control)


def test_trial_override_and_lifetime_drops_the_trial(api: Api, control: ControlClient) -> None:
    checkout(api, {"email": "t1@example.com", "priceId": "101", "trial_days": 3})
    assert checkout(api, {"email": "t3@example.com", "priceId": "101", "trial_days": 730}).status_code == 200
    checkout(api, {"email": "t2@example.com", "priceId": "103"})
    by_user = {c["user_id"]: c for c in control.state()["monetize"]["checkouts"]}
    users = users_by_email(control)
    assert by_user[users["t1@example.com"]["id"]]["trial_days"] == 3
    assert by_user[users["t2@example.com"]["id"]]["trial_days"] is None


# --- start-checkout: refusals -------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"priceId": "101"},
    {"email": "x@example.com"},
    {"email": "x@example.com", "priceId": None},
    {"email": "x@example.com", "priceId": ""},
    {},
])
def test_missing_fields_are_400_missing_parameters(api: Api, control: ControlClient, body: Any) -> None:
    before = control.state()
    resp = checkout(api, body)
    assert error_of(resp) == (400, "missing_parameters")
    assert resp.json()["error"] == "Missing required parameters: email, priceId"
    assert control.state() == before


@pytest.mark.parametrize("field", ["successUrl", "errorUrl", "shopUrl"])
@pytest.mark.parametrize("url", ["ftp://app.example.com", "app.example.com/ok", "javascript:alert(1)"])
def test_bad_urls_are_400_invalid_url(api: Api, control: ControlClient, field: str, url: str) -> None:
    before = control.state()
    resp = checkout(api, {"email": "x@example.com", "priceId": "101", field: url})
    assert error_of(resp) == (400, "invalid_url")
    assert resp.json()["error"] == f"Invalid {field} format. Must be a valid HTTP/HTTPS URL"
    assert control.state() == before


def test_other_bad_fields_are_400(api: Api, control: ControlClient) -> None:
    before = control.state()
    assert error_of(checkout(api, {"email": "not-an-email", "priceId": "101"})) == (400, "invalid_email")
    for days in (-1, 731, 10**9, 1.5):
        assert error_of(checkout(api, {"email": "x@example.com", "priceId": "101", "trial_days": days})) == (
            400, "invalid_request")
    assert error_of(checkout(api, {"email": "x@example.com", "priceId": "101", "ignoreActivePurchase": "yes"})) == (
        400, "invalid_request")
    for price_id in ({"id": 101}, [101], True, 101.5):
        assert error_of(checkout(api, {"email": "x@example.com", "priceId": price_id})) == (400, "invalid_request")
    assert error_of(checkout(api, ["x@example.com", "101"])) == (400, "missing_parameters")
    assert control.state() == before


@pytest.mark.parametrize("price_id", ["100", "201", "801", "999", "monthly", 0])
def test_unknown_stale_or_foreign_price_is_404(api: Api, control: ControlClient, price_id: Any) -> None:
    # 100 is stale (inactive), 201 is paddle's, 801 is the rival's; nothing is created for the buyer.
    before = control.state()
    assert error_of(checkout(api, {"email": "new@example.com", "priceId": price_id})) == (404, "price_not_found")
    assert control.state() == before


@pytest.mark.parametrize("email", ["alice@example.com", "frank@example.com", "erin@example.com"])
def test_active_purchase_is_409_with_the_flag(api: Api, control: ControlClient, email: str) -> None:
    before = control.state()
    resp = checkout(api, {"email": email, "priceId": "102"})
    assert error_of(resp) == (409, "already_purchased")
    assert resp.json()["hasActivePurchase"] is True
    assert control.state() == before


def test_ignore_active_purchase_bypasses_the_409(api: Api, control: ControlClient) -> None:
    resp = checkout(api, {"email": "alice@example.com", "priceId": "102", "ignoreActivePurchase": True})
    assert resp.status_code == 200 and resp.json()["userId"] == ALICE
    [session] = control.state()["monetize"]["checkouts"]
    assert session["ignore_active_purchase"] is True


def test_active_purchase_on_another_paywall_does_not_block(api: Api) -> None:
    # carol subscribes on 7 (paddle) only.
    assert checkout(api, {"email": "carol@example.com", "priceId": "101"}).status_code == 200


def test_credentials_are_checked_before_anything_happens(api: Api, control: ControlClient) -> None:
    before = control.state()
    body = {"email": "new@example.com", "priceId": "101"}
    assert error_of(checkout(api, body, key="sk_emulator_wrong")) == (401, "invalid_api_key")
    assert checkout(api, body, key="sk_emulator_wrong").json()["error"] == "Invalid API key"
    assert error_of(checkout(api, body, key=None, bearer="emu_at_expired")) == (401, "invalid_token")
    resp = checkout(api, body, key=RIVAL_KEY)
    assert error_of(resp) == (403, "forbidden")
    assert resp.json()["error"] == "Access denied: API key owner does not match paywall owner"
    assert error_of(checkout(api, body, paywall="9999")) == (404, "not_found")
    assert control.state() == before
    assert checkout(api, {"email": "r@example.com", "priceId": "801"}, paywall=RIVAL_PW,
                    key=RIVAL_KEY).status_code == 200


# --- start-checkout: idempotency ------------------------------------------------------------------


def test_same_idempotency_key_returns_the_same_url_and_creates_nothing(api: Api, control: ControlClient) -> None:
    body = {"email": "idem@example.com", "priceId": 101}
    first = checkout(api, body, idem="key-1")
    assert first.status_code == 200
    after_first = control.state()
    again = checkout(api, body, idem="key-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert control.state() == after_first
    # Without the key (or with another one) a new session is created.
    other = checkout(api, body, idem="key-2")
    assert other.json()["checkoutUrl"] != first.json()["checkoutUrl"]
    assert len(control.state()["monetize"]["checkouts"]) == 2


def test_reused_idempotency_key_with_another_body_is_409(api: Api, control: ControlClient) -> None:
    assert checkout(api, {"email": "idem@example.com", "priceId": "101"}, idem="key-1").status_code == 200
    before = control.state()
    resp = checkout(api, {"email": "idem@example.com", "priceId": "102"}, idem="key-1")
    assert error_of(resp) == (409, "idempotency_key_reused")
    assert "hasActivePurchase" not in resp.json()
    assert control.state() == before


def test_idempotency_key_expires_after_24_hours(api: Api, control: ControlClient) -> None:
    body = {"email": "idem@example.com", "priceId": "101"}
    first = checkout(api, body, idem="key-1").json()
    control.clock.advance(seconds=23 * 3600)
    assert checkout(api, body, idem="key-1").json() == first
    control.clock.advance(seconds=2 * 3600)
    later = checkout(api, body, idem="key-1")
    assert later.status_code == 200 and later.json()["checkoutUrl"] != first["checkoutUrl"]


def test_idempotency_keys_are_scoped_per_paywall(api: Api) -> None:
    a = checkout(api, {"email": "idem@example.com", "priceId": "101"}, idem="shared")
    b = checkout(api, {"email": "idem@example.com", "priceId": "201"}, paywall=PADDLE_PW, idem="shared")
    assert a.status_code == 200 and b.status_code == 200
    assert b.json()["acquiring"] == "paddle"


# --- customer portal ------------------------------------------------------------------------------


@pytest.fixture
def portal_world(emu: ThreadedEmulator) -> Iterator[None]:
    """The default world plus subscribers on chargebee/overpay and a live (not test-mode) freemius paywall."""
    doc = monetize_section()
    doc["paywalls"].append({"id": "50", "owner": "own_acme", "name": "Live desktop", "acquirer": "freemius",
                            "test_mode": False, "prices": [{"id": "901", "amount": 5, "interval": "month"}]})
    doc["users"].append({"id": "5b5c0000-0000-4000-8000-000000000050", "email": "sam@example.com", "paywalls": [
        {"paywall": CHARGEBEE_PW, "purchases": [{"id": "cb_sub_1", "price": "601", "status": "active"}]},
        {"paywall": OVERPAY_PW, "purchases": [{"id": "op_sub_1", "price": "701", "status": "active"}]},
        {"paywall": "50", "purchases": [{"id": "555", "price": "901", "status": "active"}]},
    ]})
    emu.call(emu.world.load, {"monetize": doc})
    yield
    emu.restore()


def test_portal_url_for_stripe_and_paddle(api: Api, emu: ThreadedEmulator) -> None:
    for paywall, email in [(STRIPE_PW, "alice@example.com"), (PADDLE_PW, "carol@example.com")]:
        resp = portal(api, {"email": email}, paywall=paywall)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
        assert resp.json()["url"].startswith(f"{emu.base_url}/_emulator/portal/ps_")


@pytest.mark.usefixtures("portal_world")
def test_portal_url_for_chargebee_and_overpay(api: Api) -> None:
    for paywall in (CHARGEBEE_PW, OVERPAY_PW):
        resp = portal(api, {"email": "sam@example.com"}, paywall=paywall)
        assert resp.status_code == 200, resp.text


def test_portal_records_the_return_url(api: Api, emu: ThreadedEmulator) -> None:
    portal(api, {"email": "alice@example.com", "returnUrl": "https://app.example.com/account"})
    portal(api, {"email": "alice@example.com"})
    sessions = emu.call(lambda: [s.return_url for s in store_of(emu.world).portal_sessions.values()])
    # Without returnUrl the paywall's shop URL is the way back.
    assert sessions == ["https://app.example.com/account", "https://app.example.com/pricing"]


def test_portal_for_freemius_is_403_with_is_test(api: Api, control: ControlClient) -> None:
    before = control.state()
    resp = portal(api, {"email": "dave@example.com"}, paywall=FREEMIUS_PW)
    assert error_of(resp) == (403, "forbidden")
    assert resp.json()["isTest"] == "1"
    assert control.state() == before


@pytest.mark.usefixtures("portal_world")
def test_portal_is_test_is_0_on_a_live_paywall(api: Api) -> None:
    resp = portal(api, {"email": "sam@example.com"}, paywall="50")
    assert error_of(resp) == (403, "forbidden") and resp.json()["isTest"] == "0"


@pytest.mark.parametrize("email", ["bob@example.com", "frank@example.com"])
def test_portal_without_an_active_subscription_is_403(api: Api, email: str) -> None:
    # bob bought nothing; frank's lifetime purchase has no subscription to manage.
    resp = portal(api, {"email": email})
    assert error_of(resp) == (403, "forbidden") and resp.json()["isTest"] == "1"


def test_portal_for_an_unknown_email_creates_and_links_the_user_then_403(api: Api,
                                                                       control: ControlClient) -> None:
    # Decided: like the legacy endpoint, the portal creates and links an unknown e-mail.
    resp = portal(api, {"email": "stranger@example.com", "userMeta": {"userId": "ext_s"}})
    assert error_of(resp) == (403, "forbidden")
    user = users_by_email(control)["stranger@example.com"]
    [link] = [lk for lk in control.state()["monetize"]["links"] if lk["user_id"] == user["id"]]
    assert link["paywall_id"] == STRIPE_PW and link["meta"] == {"userId": "ext_s"}


def test_portal_with_bearer_ignores_the_body_identity(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    assert portal(api, {}, key=None, bearer=token).status_code == 200
    assert portal(api, None, key=None, bearer=token).status_code == 200
    bob = control.mint_token(STRIPE_PW, email="bob@example.com")
    assert error_of(portal(api, {"email": "alice@example.com"}, key=None, bearer=bob)) == (403, "forbidden")


def test_portal_guest_by_email_is_allowed(api: Api) -> None:
    assert portal(api, {"email": "alice@example.com"}, key=None).status_code == 200


def test_portal_refusals_change_nothing(api: Api, control: ControlClient) -> None:
    before = control.state()
    for key in (ACME_KEY, None):
        resp = portal(api, {}, key=key)
        assert error_of(resp) == (400, "email_required") and resp.json()["error"] == "Email is required"
    assert error_of(portal(api, {"email": "nope"})) == (400, "invalid_email")
    assert error_of(portal(api, {"email": "alice@example.com", "returnUrl": "ftp://x"})) == (400, "invalid_url")
    assert error_of(portal(api, {"email": "alice@example.com"}, key="sk_emulator_wrong")) == (401, "invalid_api_key")
    assert error_of(portal(api, {}, key=None, bearer="emu_at_bad")) == (401, "invalid_token")
    assert error_of(portal(api, {"email": "alice@example.com"}, key=RIVAL_KEY)) == (403, "forbidden")
    assert error_of(portal(api, {"email": "alice@example.com"}, paywall="9999")) == (404, "not_found")
    assert control.state() == before
