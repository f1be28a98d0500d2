"""The control API answers no cross-origin browser request (a page on another origin could otherwise read
the keys from the state dump, register its own webhook endpoint or reset the world), carries no CORS
headers, and with a control token needs it on every call but the pages a person opens. The public API's
CORS stays as the browser SDK needs it. Proven in headless Chromium from a page on another local origin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ControlClient, ControlError, ThreadedEmulator

from .browser import HTML, browser, local_site, page, static_site  # noqa: F401  (the Chromium fixtures)
from .conftest import ACME_KEY, STRIPE_PW, Api, error_of

EVIL = "http://127.0.0.1:1"


def test_a_cross_origin_request_is_refused_and_changes_nothing(api: Api, control: ControlClient) -> None:
    before = control.state()
    for method, path in (("POST", "/_emulator/reset"), ("GET", "/_emulator/state"),
                         ("POST", "/_emulator/webhooks/endpoints"), ("POST", "/_emulator/world")):
        resp = api.request(method, path, headers={"Origin": EVIL, "Content-Type": "text/plain"}, data=b"{}")
        assert error_of(resp) == (403, "cross_origin_forbidden"), (path, resp.text)
        assert "Access-Control-Allow-Origin" not in resp.headers
    resp = api.get("/_emulator/state", headers={"Sec-Fetch-Site": "cross-site"})
    assert error_of(resp) == (403, "cross_origin_forbidden")
    assert control.state() == before


def test_same_origin_and_non_browser_clients_are_served_without_cors_headers(api: Api) -> None:
    own = api.base_url
    for headers in ({}, {"Origin": own}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        resp = api.get("/_emulator/clock", headers=headers)
        assert resp.status_code == 200, (headers, resp.text)
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]


def test_a_preflight_to_the_control_api_is_refused_but_the_public_api_keeps_its_cors(api: Api) -> None:
    preflight = {"Origin": EVIL, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    control = api.request("OPTIONS", "/_emulator/reset", headers=preflight)
    assert error_of(control) == (403, "cross_origin_forbidden")
    assert "Access-Control-Allow-Origin" not in control.headers
    public = api.request("OPTIONS", f"/api/v1/paywall/{STRIPE_PW}/bootstrap", headers=preflight)
    assert public.status_code == 204 and "X-Api-Key" in public.headers["Access-Control-Allow-Headers"]
    boot = api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap", headers={"Origin": EVIL})
    assert boot.status_code == 200 and boot.headers["Access-Control-Allow-Origin"] == "*"


@pytest.fixture(scope="module")
def guarded() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig(control_token="s3cret")) as emu:
        yield emu


def test_a_control_token_is_required_when_configured(guarded: ThreadedEmulator) -> None:
    api = Api(guarded.base_url)
    assert error_of(api.post("/_emulator/reset")) == (401, "control_token_required")
    assert error_of(api.get("/_emulator/state", headers={"X-Emulator-Token": "wrong"})) == (
        401, "control_token_required")
    assert api.get("/_emulator/state", headers={"X-Emulator-Token": "s3cret"}).status_code == 200
    for odd in ("s\xe9cret", "s3cret\xff", "\u00e9t\u00e9"):  # non-ASCII bytes in the header: refused, not a 500
        assert error_of(api.get("/_emulator/state", headers={"X-Emulator-Token": odd.encode("latin-1")})) == (
            401, "control_token_required")
    assert guarded.control.clock.now()  # the harness's client carries the token
    with pytest.raises(ControlError) as info:
        ControlClient(guarded.base_url).clock.now()
    assert info.value.status == 401


def test_the_hosted_pages_need_no_token(guarded: ThreadedEmulator) -> None:
    api = Api(guarded.base_url)
    answer = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
                      json={"email": "page@example.com", "priceId": "101"}).json()
    page_answer = api.get(answer["checkoutUrl"].removeprefix(guarded.base_url))
    assert page_answer.status_code == 200 and "text/html" in page_answer.headers["Content-Type"]


ATTACK = """<!doctype html><meta charset="utf-8"><title>attacker</title><script>
const target = "%(target)s";
const results = {};
async function attempt(name, url, options) {
  try {
    const r = await fetch(target + url, options);
    results[name] = "read " + r.status + " " + (await r.text()).slice(0, 60);
  } catch (e) { results[name] = "blocked"; }
}
(async () => {
  await attempt("state", "/_emulator/state", {});
  const simple = {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}};
  await attempt("reset", "/_emulator/reset", {...simple, body: "{}"});
  await attempt("hook", "/_emulator/webhooks/endpoints",
                {...simple, body: JSON.stringify({url: "http://attacker.example/x"})});
  await attempt("world", "/_emulator/world",
                {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
  document.title = "done";
  document.body.dataset.results = JSON.stringify(results);
})();
</script><body>"""


@pytest.fixture
def attacker(emu: ThreadedEmulator) -> Iterator[str]:
    with local_site(static_site(lambda _: ((ATTACK % {"target": emu.base_url}).encode(), HTML))) as port:
        yield f"http://127.0.0.1:{port}/"


def test_a_page_on_another_origin_can_neither_read_nor_change_the_world(
        emu: ThreadedEmulator, api: Api, attacker: str, page: Any) -> None:  # noqa: F811
    api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
             json={"email": "victim@example.com", "priceId": "101"})
    before = emu.control.state()
    page.goto(attacker)
    page.wait_for_function("document.title === 'done'")
    results = page.evaluate("JSON.parse(document.body.dataset.results)")
    assert results["state"] == "blocked" and results["world"] == "blocked", results
    assert emu.control.state() == before  # not reset, no endpoint registered, no world loaded
    assert emu.control.request("GET", "/webhooks/endpoints")["endpoints"] == []


def test_the_inspector_takes_the_token_in_its_link_and_its_buttons_send_it(
        guarded: ThreadedEmulator, page: Any) -> None:  # noqa: F811
    """A person cannot add a header when opening a page: the inspector (and the state link on it) accepts
    `?token=`; every other control operation still needs the header, and a wrong token is refused."""
    api = Api(guarded.base_url)
    assert error_of(api.get("/_emulator/")) == (401, "control_token_required")
    assert error_of(api.get("/_emulator/", params={"token": "wrong"})) == (401, "control_token_required")
    assert error_of(api.post("/_emulator/reset", params={"token": "s3cret"})) == (401, "control_token_required")
    assert api.get("/_emulator/state", params={"token": "s3cret"}).status_code == 200
    from playwright.sync_api import expect  # lazily: without playwright the `browser` fixture says what to install

    before = guarded.control.clock.now()
    page.goto(f"{guarded.base_url}/_emulator/?token=s3cret")
    assert page.get_attribute("a[href^='/_emulator/state']", "href") == "/_emulator/state?token=s3cret"
    page.get_by_test_id("refresh").click()  # Refresh keeps the token too (it once led to a 401 page)
    expect(page).to_have_title("paywall-emulator inspector")
    page.get_by_test_id("advance-1-day").click()
    expect(page.get_by_test_id("status")).to_have_text("POST /_emulator/clock/advance -> 200")
    assert guarded.control.clock.now() - before >= timedelta(days=1)
