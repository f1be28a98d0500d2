"""GET /api/v1/paywall/{id}/bootstrap: the public structure, the user snapshot (Bearer or
X-User-Email), `?if_version=` revalidation (never a 304) and `settings.custom_domain`."""

from __future__ import annotations

from paywall_emulator.testing import ControlClient, ThreadedEmulator
from tests.worlds import monetize_section

from .conftest import ACME_KEY, FREEMIUS_PW, RIVAL_KEY, STRIPE_PW, TOKEN_PW, Api, error_of

PATH = f"/api/v1/paywall/{STRIPE_PW}/bootstrap"


def test_guest_gets_the_structure_and_no_user(api: Api, emu: ThreadedEmulator) -> None:
    resp = api.get(PATH)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert {"settings", "prices", "offers", "layout", "locales", "experiment", "version"} <= set(body)
    assert body["user"] is None
    settings = body["settings"]
    assert settings["id"] == STRIPE_PW and settings["name"] == "Upgrade to Pro"
    assert settings["is_test_mode"] is True
    assert settings["success_redirect_url"] == "https://app.example.com/success"
    # The SDK compares custom_domain with its apiOrigin: it must be the emulator's own origin.
    assert settings["custom_domain"] == emu.base_url
    # Only active prices; the stale price 100 is not offered.
    assert [p["id"] for p in body["prices"]] == ["101", "102", "103"]
    monthly = body["prices"][0]
    assert monthly == {**monthly, "currency": "USD", "amount": 9.99, "interval": "month", "interval_count": 1,
                       "trial_days": 7, "local": {"currency": "EUR", "amount": 9.49}}
    assert [o["id"] for o in body["offers"]] == ["501"]
    assert body["version"].startswith(f"{STRIPE_PW}:")


def test_tokenized_paywall_layout_has_a_tokenization_gate(api: Api) -> None:
    body = api.get(f"/api/v1/paywall/{TOKEN_PW}/bootstrap").json()
    gates = [b for b in body["layout"]["blocks"] if b["type"] == "tokenization_gate"]
    assert [q["id"] for q in gates[0]["queries"]] == ["standard", "advanced", "free"]


def test_version_is_stable_and_differs_per_paywall(api: Api) -> None:
    first = api.get(PATH).json()["version"]
    assert api.get(PATH).json()["version"] == first
    assert api.get(f"/api/v1/paywall/{FREEMIUS_PW}/bootstrap").json()["version"] != first


def test_if_version_current_answers_the_short_form_never_304(api: Api) -> None:
    version = api.get(PATH).json()["version"]
    resp = api.get(PATH, params={"if_version": version})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"unchanged": True, "version": version}


def test_if_version_short_form_carries_the_user_snapshot(api: Api, control: ControlClient) -> None:
    version = api.get(PATH).json()["version"]
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    body = api.get(PATH, params={"if_version": version}, bearer=token).json()
    assert body["unchanged"] is True and body["version"] == version
    assert body["user"]["has_active_subscription"] is True


def test_if_version_stale_answers_the_full_structure(api: Api) -> None:
    resp = api.get(PATH, params={"if_version": f"{STRIPE_PW}:0000000000000000"})
    assert resp.status_code == 200
    body = resp.json()
    assert "unchanged" not in body and body["settings"]["id"] == STRIPE_PW


def test_version_ignores_the_user_snapshot(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    assert api.get(PATH, bearer=token).json()["version"] == api.get(PATH).json()["version"]


def test_bearer_adds_the_user_snapshot(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    user = api.get(PATH, bearer=token).json()["user"]
    assert set(user) >= {"has_active_subscription", "purchases", "trial", "had_previous_trial"}
    assert user["has_active_subscription"] is True
    assert [p["id"] for p in user["purchases"]] == ["sub_seedAlicePro000000000001"]


def test_x_user_email_adds_the_user_snapshot(api: Api) -> None:
    user = api.get(PATH, headers={"X-User-Email": "frank@example.com"}).json()["user"]
    assert user["has_active_subscription"] is True
    assert user["purchases"] == [{"id": "pi_seedFrankLifetime0000001", "status": "paid",
                                  "current_period_end": None, "cancel_at_period_end": False}]


def test_x_user_email_of_a_stranger_gets_the_empty_snapshot(api: Api, control: ControlClient) -> None:
    before = control.state()
    for email in ("nobody@example.com", "carol@example.com"):  # unknown; known but only on paywall 7
        user = api.get(PATH, headers={"X-User-Email": email}).json()["user"]
        assert user == {"has_active_subscription": False, "purchases": [], "trial": None,
                        "had_previous_trial": False}
    assert control.state() == before  # reading never creates users or links


def test_api_keys_are_ignored_on_the_public_bootstrap(api: Api) -> None:
    # The operation is public and does not list ApiKeyAuth: any key, even a wrong one, is ignored.
    for key in (ACME_KEY, RIVAL_KEY, "sk_bogus"):
        assert api.get(PATH, key=key).status_code == 200


def test_invalid_bearer_is_401_invalid_token(api: Api) -> None:
    assert error_of(api.get(PATH, bearer="emu_at_nope")) == (401, "invalid_token")
    assert error_of(api.get(PATH, headers={"Authorization": "Basic Zm9vOmJhcg=="})) == (401, "invalid_token")


def test_unknown_paywall_is_404(api: Api) -> None:
    assert error_of(api.get("/api/v1/paywall/9999/bootstrap")) == (404, "not_found")


def test_a_guest_answer_follows_a_new_seed_and_the_origin(api: Api, emu: ThreadedEmulator) -> None:
    """A guest's bootstrap is computed once per seed (and its JSON encoded once): loading a seed that
    renames the paywall must show through at once (another origin: tests/test_cli.py)."""
    first = api.get(PATH)
    assert api.get(PATH).content == first.content  # the same answer, byte for byte
    assert api.get(f"{PATH}?if_version={first.json()['version']}").json() == {
        "unchanged": True, "version": first.json()["version"]}
    doc = monetize_section()
    [stripe] = [p for p in doc["paywalls"] if p["id"] == STRIPE_PW]
    stripe["name"] = "Upgrade to Max"
    emu.control.load_world({"monetize": doc})
    try:
        renamed = api.get(PATH).json()
        assert renamed["settings"]["name"] == "Upgrade to Max" and renamed["version"] != first.json()["version"]
        # The old version is stale now: the full structure again.
        assert api.get(f"{PATH}?if_version={first.json()['version']}").json()["settings"]["name"] == "Upgrade to Max"
    finally:
        emu.restore()
