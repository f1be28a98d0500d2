"""The bootstrap's `Accept-Language` variant: the caller's best language among the paywall's default
locale and its `locales` keys becomes `settings.locale_default` (q-values first, a region narrowing down
to its language), no match gives the paywall's own default, `en` when the paywall names none, and the
answer varies on the header.
"""

from __future__ import annotations

import pytest

from paywall_emulator.contract_tests.client import Api, Control, expect_ok
from paywall_emulator.contract_tests.helpers import need
from paywall_emulator.contract_tests.settings import Settings

FALLBACK_LOCALE = "en"  # spec getBootstrap "Locale": `en` when the paywall names no locale_default


def _locale(api: Api, paywall_id: str, accept_language: str | None) -> str:
    headers = {} if accept_language is None else {"Accept-Language": accept_language}
    resp = api.get(f"/api/v1/paywall/{paywall_id}/bootstrap", key=None, headers=headers)
    body = expect_ok(resp)
    assert "accept-language" in resp.headers.get("Vary", "").lower(), (
        f"Vary {resp.headers.get('Vary')!r}: the answer depends on Accept-Language")
    return str(body["settings"]["locale_default"])


def test_accept_language_picks_one_of_the_paywalls_locales(api: Api, settings: Settings) -> None:
    boot = expect_ok(api.get(f"/api/v1/paywall/{settings.paywall_id}/bootstrap", key=None))
    own = str(boot["settings"]["locale_default"] or FALLBACK_LOCALE)
    others = sorted(tag for tag in boot["locales"] if "-" not in tag and tag.lower() != own.lower())
    if not others:
        pytest.skip(f"paywall {settings.paywall_id} has no locale besides its default {own!r}")
    other = others[0]
    assert _locale(api, settings.paywall_id, None) == own, "no header: the paywall's own default"
    assert _locale(api, settings.paywall_id, other) == other
    assert _locale(api, settings.paywall_id, f"{other}-CH") == other, f"{other}-CH narrows down to {other}"
    assert _locale(api, settings.paywall_id, f"{other};q=0.5, {own};q=0.9") == own, "the higher q-value wins"
    assert _locale(api, settings.paywall_id, f"{other};q=0, xx") == own, "q=0 and an unknown language: the default"


@pytest.mark.emulator_only("the paywalls' stored settings in GET /_emulator/state")
def test_a_paywall_naming_no_locale_default_answers_en(api: Api, control: Control, settings: Settings) -> None:
    state = control.request("GET", "/state")["monetize"]
    bare = [p["id"] for p in state["paywalls"] if p["id"] in settings.paywall_ids()
            and not (p.get("settings") or {}).get("locale_default")]
    paywall = need(bare[0] if bare else None, "--paywall-other-id", "a paywall whose settings name no locale_default")
    assert _locale(api, paywall, None) == FALLBACK_LOCALE, f"paywall {paywall} names no locale_default"
    assert _locale(api, paywall, "de-DE, fr;q=0.8") == FALLBACK_LOCALE, "a paywall without locales answers its default"
