"""Bootstrap as the docs' clients read it: `settings.locale_default` follows the caller's
`Accept-Language` (q-values, narrowing, widening) among the paywall's locales, falling back to the
paywall's own default; and every offer lists the `prices` it applies to, so the headless guide's
`boot.offers.flatMap((o) => o.prices.map(...))` works."""

from __future__ import annotations

from typing import Any

import pytest

from paywall_emulator.products.monetize.domain.locales import parse_accept_language
from paywall_emulator.testing import ControlClient
from tests.worlds import monetize_section

from .conftest import PADDLE_PW, STRIPE_PW, TOKEN_PW, Api


def bootstrap(api: Api, paywall: str = STRIPE_PW, *, lang: str | None = None,
              **params: str) -> dict[str, Any]:
    headers = {"Accept-Language": lang} if lang is not None else {}
    resp = api.get(f"/api/v1/paywall/{paywall}/bootstrap", headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Vary"] == "Accept-Language"
    return dict(resp.json())


def load(control: ControlClient, change: Any) -> None:
    section = monetize_section()
    change({p["id"]: p for p in section["paywalls"]})
    control.load_world({"monetize": section})


# --- Accept-Language --------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "locale"), [
    (None, "en"),
    ("", "en"),
    ("de", "de"),
    ("DE", "de"),
    ("de-CH", "de"),  # a range narrows down to the locale the paywall has
    ("de-CH, en;q=0.9", "de"),
    ("en;q=0.5, de;q=0.8", "de"),  # q-values, not header order
    ("fr, de;q=0.1", "de"),  # no French: the next acceptable range
    ("fr-FR, fr;q=0.9", "en"),  # nothing acceptable: the paywall's default
    ("en-US,en;q=0.9,de;q=0.8", "en"),
    ("de;q=0", "en"),  # q=0 means "not acceptable"
    ("de;q=0, *;q=0.5", "en"),
    ("*", "en"),
    ("de;q=abc, fr", "en"),  # a malformed q drops its range
    ("de;q=1.5", "en"),
    ("d e", "en"),
])
def test_locale_default_is_the_best_accept_language_match(api: Api, header: str | None, locale: str) -> None:
    body = bootstrap(api, lang=header)
    assert body["settings"]["locale_default"] == locale
    assert locale == "en" or body["locales"][locale]["prices"]["101"]["label"] == "Monatlich"


def test_what_the_sdk_applies_follows_the_header(api: Api) -> None:
    """The SDK overlays `locales[settings.locale_default]` (Node has no navigator.language)."""
    def labels(body: dict[str, Any]) -> dict[str, str]:
        override = body["locales"].get(body["settings"]["locale_default"], {}).get("prices", {})
        return {p["id"]: override.get(p["id"], {}).get("label", p["label"]) for p in body["prices"]}

    assert labels(bootstrap(api, lang="de-AT,de;q=0.9")) == {"101": "Monatlich", "102": "Jährlich", "103": "Lebenslang"}
    assert labels(bootstrap(api, lang="en-GB")) == {"101": "Monthly", "102": "Yearly", "103": "Lifetime"}


def test_version_covers_the_locale_and_if_version_follows_it(api: Api) -> None:
    german, english = bootstrap(api, lang="de"), bootstrap(api)
    assert german["version"] != english["version"]
    assert bootstrap(api, lang="de", if_version=german["version"]) == {"unchanged": True, "version": german["version"]}
    assert bootstrap(api, lang="de", if_version=english["version"])["settings"]["locale_default"] == "de"
    assert bootstrap(api, if_version=english["version"]) == {"unchanged": True, "version": english["version"]}
    # the same answers for a named reader, whose snapshot is added
    named = api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap",
                    headers={"Accept-Language": "de", "X-User-Email": "alice@example.com"}).json()
    assert named["settings"]["locale_default"] == "de" and named["version"] == german["version"]
    assert named["user"]["has_active_subscription"] is True


def test_paywalls_without_locales_keep_their_default(api: Api) -> None:
    for paywall in (PADDLE_PW, TOKEN_PW):
        assert bootstrap(api, paywall, lang="de")["settings"]["locale_default"] == "en"


def test_a_range_widens_to_a_regional_locale_and_the_paywall_default_wins_ties(
        api: Api, control: ControlClient) -> None:
    def change(paywalls: dict[str, Any]) -> None:
        paywalls[STRIPE_PW]["locales"] = {"de-AT": {}, "pt-BR": {}, "pt-PT": {}}
        paywalls[STRIPE_PW]["settings"]["locale_default"] = "fr"
        paywalls[PADDLE_PW]["settings"] = {"locale_default": "es"}
    load(control, change)
    assert bootstrap(api, lang="de")["settings"]["locale_default"] == "de-AT"
    assert bootstrap(api, lang="pt")["settings"]["locale_default"] == "pt-BR"  # first in tag order
    assert bootstrap(api, lang="pt-PT, pt;q=0.9")["settings"]["locale_default"] == "pt-PT"
    assert bootstrap(api, lang="en")["settings"]["locale_default"] == "fr"
    assert bootstrap(api, lang="fr-CA")["settings"]["locale_default"] == "fr"
    assert bootstrap(api)["settings"]["locale_default"] == "fr"
    assert bootstrap(api, PADDLE_PW, lang="de")["settings"]["locale_default"] == "es"


def test_accept_language_parsing() -> None:
    assert parse_accept_language("da, en-gb;q=0.8, en;q=0.7") == ["da", "en-gb", "en"]
    assert parse_accept_language("en;q=0.7, da, en-gb;q=0.8") == ["da", "en-gb", "en"]
    assert parse_accept_language("a;q=0.5, b;q=0.5, c") == ["c", "a", "b"]
    assert parse_accept_language(" , ;q=1, x;q=0, y;Q=0.001") == ["y"]
    assert parse_accept_language(None) == []


# --- offers[].prices ------------------------------------------------------------------------------------


def guide_prices(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The headless guide's `GET /api/prices`: offers.flatMap(o => o.prices.map(p => ({...})))."""
    return [{"id": p["id"], "interval": p["interval"], "amount": p["amount"], "currency": p["currency"]}
            for o in body["offers"] for p in o["prices"]]


def test_an_offer_lists_the_prices_it_applies_to(api: Api) -> None:
    body = bootstrap(api)
    (offer,) = body["offers"]
    assert offer["price_id"] == "102"
    assert offer["prices"] == [p for p in body["prices"] if p["id"] == "102"]
    assert guide_prices(body) == [{"id": "102", "interval": "year", "amount": 99.0, "currency": "USD"}]
    assert bootstrap(api, PADDLE_PW)["offers"] == []


def test_a_global_offer_lists_every_active_price_and_a_stale_price_none(api: Api, control: ControlClient) -> None:
    def change(paywalls: dict[str, Any]) -> None:
        paywalls[STRIPE_PW]["offers"] += [
            {"id": "502", "discount_percent": 10, "label": "Everything", "expires_in_days": 5},
            {"id": "503", "discount_percent": 50, "price_id": "100", "label": "Old plan", "expires_in_days": 5},
        ]
    load(control, change)
    body = bootstrap(api)
    offers = {o["id"]: o for o in body["offers"]}
    assert [p["id"] for p in offers["502"]["prices"]] == ["101", "102", "103"]  # the inactive 100 is not listed
    assert offers["502"]["prices"] == body["prices"]
    assert offers["503"]["prices"] == []
    assert offers["502"]["prices"][0]["amount"] == 9.99  # undiscounted, as in `prices`
    assert {p["id"] for p in guide_prices(body)} == {"101", "102", "103"}
