"""The hosted fake checkout and portal pages over HTTP: what the pages show per acquirer, what each
button does (redirect with markers, Freemius's page instead, magic cards), the 409 page on a session
that is no longer open, the error shape for unknown sessions and bad forms, and the portal's Cancel.
Every refused action is checked to have changed nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from paywall_emulator.products.monetize.acquirers import acquirer_for
from paywall_emulator.products.monetize.models import CheckoutSession, Paywall, Price, User
from paywall_emulator.products.monetize.pages import render_checkout_page
from paywall_emulator.testing import ControlClient, ThreadedEmulator

from .conftest import (
    ACME_KEY,
    CHARGEBEE_PW,
    FREEMIUS_PW,
    OVERPAY_PW,
    PADDLE_PW,
    STRIPE_PW,
    TOKEN_PW,
    Api,
    error_of,
)

SUCCESS = "https://app.example.com/welcome"
ERROR = "https://app.example.com/pricing-again"
ALICE_SUB = "sub_seedAlicePro000000000001"


def start(api: Api, *, paywall: str = STRIPE_PW, price: str = "102", email: str = "buyer@example.com",
          **extra: Any) -> str:
    """Start a checkout; return its hosted page URL."""
    body = {"email": email, "priceId": price, "successUrl": SUCCESS, "errorUrl": ERROR, **extra}
    resp = api.post(f"/api/v1/paywall/{paywall}/start-checkout", key=ACME_KEY, json=body)
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["checkoutUrl"]
    return url


def submit(url: str, **form: str) -> requests.Response:
    return requests.post(url, data=form, allow_redirects=False, timeout=30)


def session_id_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def markers(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


def user_of(api: Api, paywall: str, email: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/paywall/{paywall}/user", key=ACME_KEY, params={"email": email})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def event_types(control: ControlClient) -> list[str]:
    return [e["type"] for e in control.request("GET", "/events")["events"]]


def is_html(resp: requests.Response) -> bool:
    return resp.headers["Content-Type"].startswith("text/html")


# --- the checkout page -------------------------------------------------------------------------------


def test_checkout_page_shows_acquirer_price_email_card_and_buttons(api: Api) -> None:
    url = start(api, price="101", email="pat@example.com")
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and is_html(resp)
    page = resp.text
    assert "<title>Stripe Checkout" in page and "--brand:#635bff" in page
    assert 'data-testid="amount">9.99 USD<' in page
    assert 'data-testid="price-label">Monthly<' in page and "every month" in page
    assert 'data-testid="email">pat@example.com<' in page
    assert 'data-testid="trial">7 days<' in page
    assert f'data-testid="session-id">{session_id_of(url)}<' in page
    assert 'name="card" data-testid="card" value="4242 4242 4242 4242"' in page
    assert "4000 0000 0000 0002" in page and "4000 0000 0000 9995" in page  # Stripe's magic cards
    for action in ("pay", "decline", "cancel"):
        assert f'name="action" value="{action}"' in page
    assert '<form method="post"' in page


@pytest.mark.parametrize(("paywall", "price", "acquirer", "amount"), [
    (STRIPE_PW, "102", "stripe", "99.00 USD"), (PADDLE_PW, "201", "paddle", "12.00 EUR"),
    (FREEMIUS_PW, "301", "freemius", "19.99 USD"), (CHARGEBEE_PW, "601", "chargebee", "29.00 USD"),
    (OVERPAY_PW, "701", "overpay", "39.00 PLN"),
])
def test_each_acquirer_has_its_own_page(api: Api, paywall: str, price: str, acquirer: str, amount: str) -> None:
    url = start(api, paywall=paywall, price=price)
    page = requests.get(url, timeout=30).text
    expected = acquirer_for(acquirer)  # type: ignore[arg-type]
    assert f"<title>{expected.display_name}" in page and f"--brand:{expected.brand_color}" in page
    assert f'data-acquirer="{acquirer}"' in page and f'data-testid="amount">{amount}<' in page
    assert "trial" not in page.split("<main>", 1)[1].lower()


def test_acquirers_differ_in_name_colour_and_session_id() -> None:
    names = ("stripe", "paddle", "freemius", "chargebee", "overpay")
    acquirers = [acquirer_for(n) for n in names]
    assert len({a.display_name for a in acquirers}) == 5 and len({a.brand_color for a in acquirers}) == 5


def test_session_id_formats(api: Api) -> None:
    assert session_id_of(start(api)).startswith("cs_test_")
    assert session_id_of(start(api, paywall=FREEMIUS_PW, price="301")).isdigit()


def test_non_ascii_labels_survive_any_charset(api: Api) -> None:
    page = requests.get(start(api, paywall=OVERPAY_PW, price="701"), timeout=30).content
    assert page.isascii() and b"Miesi&#281;czny" in page


def test_unknown_checkout_session_is_404_in_the_error_shape(api: Api) -> None:
    assert error_of(api.get("/_emulator/checkout/cs_test_nope")) == (404, "not_found")
    assert error_of(api.post("/_emulator/checkout/cs_test_nope", data={"action": "pay"})) == (404, "not_found")


def test_everything_is_escaped() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    session = CheckoutSession(id="cs_<1>", paywall_id="p", user_id="u", price_id="x", acquirer="stripe",
                              url="u", created_at=now, shop_url='https://x.example/"><script>')
    page = render_checkout_page(
        session=session, paywall=Paywall(id="p", owner_id="o", name="<b>Shop</b>", acquirer="stripe"),
        price=Price(id="x", paywall_id="p", currency="USD", amount=1.0, interval="month", label="<i>plan</i>"),
        user=User(id="u", email="a&b@example.com", created_at=now), acquirer=acquirer_for("stripe"),
        message="<script>alert(1)</script>")
    assert "<script>" not in page and "<b>Shop" not in page and "<i>plan" not in page
    assert "&lt;i&gt;plan&lt;/i&gt;" in page and "a&amp;b@example.com" in page and "cs_&lt;1&gt;" in page


# --- the buttons -------------------------------------------------------------------------------------


def test_pay_redirects_to_the_success_url_with_markers_and_grants_access(api: Api, control: ControlClient) -> None:
    url = start(api, email="payer@example.com")
    resp = submit(url, action="pay", card="4242 4242 4242 4242")
    assert resp.status_code == 303 and resp.text == ""
    location = resp.headers["Location"]
    assert location.startswith(SUCCESS + "#")
    assert markers(location) == {"paywall_status": "paid", "paywall_price_id": "102",
                                 "paywall_session_id": session_id_of(url)}
    user = user_of(api, STRIPE_PW, "payer@example.com")
    assert user["paid"] is True
    [purchase] = user["purchases"]
    assert purchase["status"] == "active" and purchase["unit_amount"] == 9900
    assert event_types(control) == ["payment.completed", "subscription.created"]
    assert control.request("GET", f"/checkouts/{session_id_of(url)}")["status"] == "paid"


def test_pay_with_a_json_body_works_too(api: Api) -> None:
    url = start(api, email="json@example.com")
    resp = requests.post(url, json={"action": "pay"}, allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and markers(resp.headers["Location"])["paywall_status"] == "paid"


def test_decline_goes_to_the_error_url_and_changes_nothing_else(api: Api, control: ControlClient) -> None:
    url = start(api, email="decliner@example.com")
    resp = submit(url, action="decline", card="4242 4242 4242 4242")
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location.startswith(ERROR + "#") and markers(location)["paywall_status"] == "failed"
    user = user_of(api, STRIPE_PW, "decliner@example.com")
    assert user["paid"] is False and user["purchases"] == []
    assert event_types(control) == []
    session = control.request("GET", f"/checkouts/{session_id_of(url)}")
    assert session["status"] == "declined"


def test_cancel_goes_to_the_error_url_as_cancelled(api: Api, control: ControlClient) -> None:
    url = start(api, email="leaver@example.com")
    resp = submit(url, action="cancel")
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith(ERROR + "#")
    assert markers(resp.headers["Location"])["paywall_status"] == "cancelled"
    assert user_of(api, STRIPE_PW, "leaver@example.com")["paid"] is False
    assert event_types(control) == []


@pytest.mark.parametrize(("card", "reason"), [("4000 0000 0000 0002", "card_declined"),
                                              ("4000-0000-0000-9995", "insufficient_funds")])
def test_a_magic_card_on_the_form_declines(api: Api, control: ControlClient, card: str, reason: str) -> None:
    url = start(api, email="magic@example.com")
    resp = submit(url, action="pay", card=card)
    assert resp.status_code == 303 and markers(resp.headers["Location"])["paywall_status"] == "failed"
    assert user_of(api, STRIPE_PW, "magic@example.com")["paid"] is False
    assert event_types(control) == []
    assert control.request("GET", f"/checkouts/{session_id_of(url)}")["outcome_reason"] == reason


def test_freemius_pay_answers_a_page_and_never_redirects(api: Api, control: ControlClient) -> None:
    url = start(api, paywall=FREEMIUS_PW, price="301", email="desk@example.com")
    assert "user_email=desk%40example.com" in url  # the hosted URL carries Freemius's query, ignored on POST
    resp = submit(url, action="pay")
    assert resp.status_code == 200 and is_html(resp) and "Location" not in resp.headers
    assert 'data-status="paid"' in resp.text and "Payment received &#8212; return to Acme Desktop" in resp.text
    assert 'name="action"' not in resp.text
    assert user_of(api, FREEMIUS_PW, "desk@example.com")["paid"] is True
    assert event_types(control) == ["payment.completed", "subscription.created"]


def test_freemius_decline_page(api: Api) -> None:
    resp = submit(start(api, paywall=FREEMIUS_PW, price="301", email="nope@example.com"), action="decline")
    assert resp.status_code == 200 and "Location" not in resp.headers
    assert 'data-status="declined"' in resp.text and "Payment declined (card_declined)" in resp.text


def test_a_second_submit_is_a_409_page_and_changes_nothing(api: Api, control: ControlClient) -> None:
    url = start(api, email="twice@example.com")
    assert submit(url, action="pay").status_code == 303
    before = control.state()
    for action in ("pay", "decline", "cancel"):
        resp = submit(url, action=action)
        assert resp.status_code == 409 and is_html(resp) and "Location" not in resp.headers
        assert 'data-testid="message"' in resp.text and "is paid; only an open checkout" in resp.text
        assert 'data-status="paid"' in resp.text and 'name="action"' not in resp.text
    assert control.state() == before
    assert len(user_of(api, STRIPE_PW, "twice@example.com")["purchases"]) == 1


def test_paying_a_second_open_session_after_access_is_a_409_page_with_the_buttons(
        api: Api, control: ControlClient) -> None:
    first, second = start(api, email="double@example.com"), start(api, email="double@example.com")
    assert submit(first, action="pay").status_code == 303
    before = control.state()
    resp = submit(second, action="pay")
    assert resp.status_code == 409 and "already has an active purchase" in resp.text
    assert 'name="action" value="pay"' in resp.text  # still open: the buyer may cancel it
    assert control.state() == before


def test_a_paid_session_page_shows_the_outcome_without_buttons(api: Api) -> None:
    url = start(api, email="again@example.com")
    submit(url, action="pay")
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and 'data-status="paid"' in resp.text and 'name="action"' not in resp.text


def test_an_expired_session_shows_expired_and_refuses_pay(api: Api, control: ControlClient) -> None:
    url = start(api, email="slow@example.com")
    control.clock.advance(hours=25)
    page = requests.get(url, timeout=30).text
    assert 'data-status="expired"' in page and 'name="action"' not in page
    resp = submit(url, action="pay")
    assert resp.status_code == 409 and "is expired" in resp.text
    assert user_of(api, STRIPE_PW, "slow@example.com")["paid"] is False


@pytest.mark.parametrize("form", [{"action": "refund"}, {}, {"action": "pay", "extra": "x"}])
def test_a_bad_form_is_400_in_the_error_shape(api: Api, control: ControlClient, form: dict[str, str]) -> None:
    url = start(api, email="bad@example.com")
    before = control.state()
    resp = submit(url, **form)
    assert error_of(resp) == (400, "invalid_request")
    assert control.state() == before


def test_tokenized_paywall_pay_grants_tokens(api: Api) -> None:
    url = start(api, paywall=TOKEN_PW, price="401", email="tokens@example.com")
    assert submit(url, action="pay").status_code == 303
    balances = {b["type"]: b["count"] for b in user_of(api, TOKEN_PW, "tokens@example.com")["balances"]}
    assert balances["standard"] >= 1000


# --- the portal --------------------------------------------------------------------------------------


def open_portal(api: Api, email: str, *, paywall: str = STRIPE_PW, return_url: str | None = None) -> str:
    body: dict[str, Any] = {"email": email}
    if return_url:
        body["returnUrl"] = return_url
    resp = api.post(f"/api/v1/paywall/{paywall}/get-customer-portal", key=ACME_KEY, json=body)
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["url"]
    return url


def test_portal_lists_subscriptions_and_links_back(api: Api, emu: ThreadedEmulator) -> None:
    url = open_portal(api, "alice@example.com", return_url="https://app.example.com/account")
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and is_html(resp)
    page = resp.text
    assert f'data-subscription-id="{ALICE_SUB}"' in page and ">Monthly<" in page
    assert 'data-testid="status">active<' in page and 'data-testid="cancel-at-period-end">no<' in page
    assert f'name="subscription_id" value="{ALICE_SUB}"' in page
    assert '<a data-testid="return-link" href="https://app.example.com/account">Return to Acme Pro</a>' in page
    assert "alice@example.com" in page and "<title>Stripe Checkout portal" in page


def test_portal_cancel_schedules_the_cancellation_then_409(api: Api, control: ControlClient) -> None:
    url = open_portal(api, "alice@example.com")
    browser = requests.Session()  # the portal link is one-time: one browser uses it throughout
    resp = browser.post(url, data={"action": "cancel", "subscription_id": ALICE_SUB}, allow_redirects=False,
                        timeout=30)
    assert resp.status_code == 303 and resp.headers["Location"] == url
    [purchase] = user_of(api, STRIPE_PW, "alice@example.com")["purchases"]
    assert purchase["cancel_at_period_end"] is True and purchase["status"] == "active"
    [event] = control.request("GET", "/events")["events"]
    assert event["type"] == "subscription.updated"
    assert event["data"]["subscription"]["cancel_at_period_end"] is True
    page = browser.get(url, timeout=30).text
    assert 'data-testid="cancel-at-period-end">yes<' in page and 'name="subscription_id"' not in page

    before = control.state()
    again = browser.post(url, data={"action": "cancel", "subscription_id": ALICE_SUB}, allow_redirects=False,
                         timeout=30)
    assert again.status_code == 409 and is_html(again) and "Location" not in again.headers
    assert 'data-testid="message"' in again.text and "already cancelled" in again.text
    assert control.state() == before


def test_portal_after_a_hosted_checkout_on_chargebee(api: Api, control: ControlClient) -> None:
    checkout = start(api, paywall=CHARGEBEE_PW, price="601", email="team@example.com")
    assert submit(checkout, action="pay").status_code == 303
    url = open_portal(api, "team@example.com", paywall=CHARGEBEE_PW)
    browser = requests.Session()
    page = browser.get(url, timeout=30).text
    assert "<title>Chargebee" in page and ">Team<" in page
    [sub] = [s for s in control.state()["monetize"]["subscriptions"] if s["paywall_id"] == CHARGEBEE_PW]
    assert browser.post(url, data={"action": "cancel", "subscription_id": sub["id"]}, allow_redirects=False,
                        timeout=30).status_code == 303
    assert user_of(api, CHARGEBEE_PW, "team@example.com")["purchases"][0]["cancel_at_period_end"] is True


def test_portal_unknown_session_or_subscription_is_404(api: Api, control: ControlClient) -> None:
    assert error_of(api.get("/_emulator/portal/ps_nope")) == (404, "not_found")
    url = open_portal(api, "alice@example.com")
    before = control.state()
    assert error_of(submit(url, action="cancel", subscription_id="sub_other")) == (404, "not_found")
    assert error_of(submit(url, action="pause", subscription_id=ALICE_SUB)) == (400, "invalid_request")
    assert control.state() == before
