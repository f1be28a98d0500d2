"""OAuth sign-in over HTTP: `oauth/init` → the fake provider page (its buttons answer 303 like a
provider) → the callback URL → `oauth/exchange` with the PKCE verifier; linking an anonymous user,
the provider's errors in the callback's fragment, and every refusal of the exchange."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from paywall_emulator.testing import ControlClient

from .auth_support import VERIFIER, challenge, code_of, exchange, init, press
from .conftest import STRIPE_PW, Api, error_of


def test_a_plain_oauth_sign_in(api: Api, control: ControlClient) -> None:
    url = init(api, provider="github")
    assert url.startswith(f"{api.base_url}/_emulator/oauth/authorize?flow=")
    page = api.session.get(url, timeout=30)
    assert page.status_code == 200 and 'data-status="pending"' in page.text
    assert 'value="github.user@example.com"' in page.text and "Sign in with Github" in page.text
    code = code_of(press(api, url, "approve", name="Nia Octo", email="nia@example.com",
                         avatar="https://avatars.example.com/nia.png"))
    assert error_of(exchange(api, code, verifier="x" * 86)) == (400, "bad_code_verifier")
    resp = exchange(api, code, user_meta={"from": "oauth"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["user"]["email"] == "nia@example.com" and body["user"]["name"] == "Nia Octo"
    assert body["user"]["avatar"] == "https://avatars.example.com/nia.png" and body["user"]["is_anonymous"] is False
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert error_of(exchange(api, code)) == (400, "flow_state_not_found")  # once only
    after = api.session.get(url, timeout=30)
    assert 'data-status="exchanged"' in after.text and "data-testid=\"approve\"" not in after.text
    # The same identity later signs in the same user; the user can then use a Bearer route.
    url2 = init(api, provider="github")
    again = exchange(api, code_of(press(api, url2, "approve", name="Nia", email="NIA@example.com")))
    assert again.json()["user"]["id"] == body["user"]["id"]
    assert api.get(f"/api/v1/paywall/{STRIPE_PW}/user", bearer=again.json()["access_token"]).status_code == 200


def test_an_identity_with_a_known_email_signs_in_that_user(api: Api) -> None:
    url = init(api)
    resp = exchange(api, code_of(press(api, url, "approve", name="Alice G", email="alice@example.com")))
    assert resp.json()["user"]["id"] == "a11ce000-0000-4000-8000-000000000001"
    assert resp.json()["user"]["name"] == "Alice Active"  # the profile keeps its name


def test_provider_errors_go_in_the_fragment(api: Api) -> None:
    url = init(api)
    resp = press(api, url, "cancel")
    assert resp.status_code == 303
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/paywall/v3/auth/callback" and location.query == ""
    assert parse_qs(location.fragment) == {"error": ["access_denied"],
                                           "error_description": ["The user cancelled the sign-in at the provider"]}
    again = press(api, url, "approve", email="late@example.com")
    assert again.status_code == 409 and 'data-testid="message"' in again.text  # already answered
    url = init(api)
    linked = press(api, url, "identity_already_exists")
    fragment = parse_qs(urlsplit(linked.headers["Location"]).fragment)
    assert fragment == {"error": ["server_error"], "error_code": ["identity_already_exists"],
                        "error_description": ["Identity is already linked to another user"]}


def test_linking_keeps_the_anonymous_user(api: Api) -> None:
    anon = api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/anonymous/signin", json={}).json()
    url = init(api, bearer=anon["access_token"])
    page = api.session.get(url, timeout=30)
    assert 'data-testid="linking"' in page.text
    # An identity another user holds cannot be linked: the provider answers identity_already_exists.
    taken = press(api, url, "approve", name="Bob", email="bob@example.com")
    assert parse_qs(urlsplit(taken.headers["Location"]).fragment)["error_code"] == ["identity_already_exists"]
    url = init(api, bearer=anon["access_token"])
    body = exchange(api, code_of(press(api, url, "approve", name="Ora", email="ora@example.com"))).json()
    assert body["user"]["id"] == anon["user"]["id"]
    assert body["user"]["email"] == "ora@example.com" and body["user"]["is_anonymous"] is False


def test_exchange_and_provider_refusals(api: Api, control: ControlClient) -> None:
    control.clock.set(control.clock.now() + timedelta(seconds=5), frozen=True)
    url = init(api)
    code = code_of(press(api, url, "approve", email="pia@example.com"))
    control.clock.advance(minutes=6)
    assert error_of(exchange(api, code)) == (400, "flow_state_expired")
    assert error_of(exchange(api, "nope")) == (400, "flow_state_not_found")
    assert error_of(api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/oauth/init", json={
        "provider": "myspace", "code_challenge": challenge(VERIFIER), "code_challenge_method": "s256"})) == (
        400, "invalid_request")
    assert error_of(api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/oauth/init", bearer="expired", json={
        "provider": "google", "code_challenge": challenge(VERIFIER), "code_challenge_method": "s256"})) == (
        401, "invalid_token")
    url = init(api)
    bad = press(api, url, "approve", email="not an email")
    assert bad.status_code == 400 and "needs an e-mail" in bad.text
    assert code_of(press(api, url, "approve", email="pia@example.com"))  # nothing changed: still pending
    assert api.get("/_emulator/oauth/authorize?flow=oaf_unknown").status_code == 404
    control.clock.advance(minutes=11)
    stale = init(api)
    control.clock.advance(minutes=11)
    assert press(api, stale, "approve", email="pia@example.com").status_code == 409


def test_the_provider_page_opens_from_another_site_but_posts_only_from_its_own(api: Api) -> None:
    """The app that opens the popup is on another site: the page's GET is a cross-site navigation (no
    `Origin`), while a cross-origin POST of its form is refused like any control call."""
    url = init(api)
    opened = api.session.get(url, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
                             timeout=30)
    assert opened.status_code == 200 and 'data-status="pending"' in opened.text
    flow = parse_qs(urlsplit(url).query)["flow"][0]
    forged = api.session.post(f"{api.base_url}/_emulator/oauth/authorize", allow_redirects=False, timeout=30,
                              headers={"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "cross-site"},
                              data={"flow": flow, "action": "approve", "email": "mallory@example.com"})
    assert error_of(forged) == (403, "cross_origin_forbidden")
    assert code_of(press(api, url, "approve", email="own@example.com"))  # the flow is still pending


def test_an_oauth_only_account_has_no_password_and_is_already_registered(api: Api) -> None:
    url = init(api)
    body = exchange(api, code_of(press(api, url, "approve", name="Oli", email="oli@example.com"))).json()
    path = f"/api/v1/paywall/{STRIPE_PW}/auth/email"
    assert error_of(api.post(f"{path}/signin", json={"email": "oli@example.com", "password": "any-password"})) == (
        400, "invalid_credentials")
    again = api.post(f"{path}/signup", json={"email": "OLI@example.com", "password": "any-password"})
    assert again.status_code == 200 and again.json() == {"status": "already_registered", "email": "OLI@example.com"}
    # Still no password: the sign-up changed nothing.
    assert error_of(api.post(f"{path}/signin", json={"email": "oli@example.com", "password": "any-password"})) == (
        400, "invalid_credentials")
    assert body["user"]["email"] == "oli@example.com"


def test_pkce_is_s256_and_a_code_works_only_on_its_paywall(api: Api) -> None:
    for method, challenge_value in (("plain", challenge(VERIFIER)), ("s256", "short")):
        assert error_of(api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/oauth/init", json={
            "provider": "google", "code_challenge": challenge_value, "code_challenge_method": method})) == (
            400, "invalid_request")
    code = code_of(press(api, init(api), "approve", email="pat@example.com"))
    other = api.post("/api/v1/paywall/7/auth/oauth/exchange", json={"auth_code": code, "code_verifier": VERIFIER})
    assert error_of(other) == (400, "flow_state_not_found")
    assert error_of(exchange(api, code, verifier=VERIFIER + "x")) == (400, "bad_code_verifier")
    assert exchange(api, code).status_code == 200  # neither refusal used the code up
