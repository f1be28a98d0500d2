"""A real headless Chromium (Playwright) signs in with OAuth the way the SDK's AuthClient does: a page
served by this test (on another site than the emulator) sends `oauth/init` with a PKCE challenge, opens
the `authorize_url` in a popup named `pw-oauth-<state>`, listens for the callback page's `postMessage`
while polling `popup.closed`, exchanges the code with the verifier, then calls a Bearer route.

Chromium and Playwright are required, never skipped: `bash scripts/test` installs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .browser import HTML, browser, local_site, page, static_site  # noqa: F401  (fixtures: one Chromium per module)
from .conftest import STRIPE_PW, Api

if TYPE_CHECKING:
    from playwright.sync_api import Page

# The SDK's popup protocol (AuthClient.signInWithOAuth / waitForOAuthResult), re-stated for the test.
APP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>app</title></head><body>
<button id="signin">Sign in with Google</button>
<button id="link">Continue as a guest, then link Google</button>
<pre id="result"></pre>
<script>
const API = %(api)s, PAYWALL = %(paywall)s;
function b64url(bytes) {
  let s = ''; bytes.forEach(function (b) { s += String.fromCharCode(b); });
  return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
}
async function call(method, path, body, token) {
  const headers = {'Accept': 'application/json', 'X-Paywall-Id': PAYWALL, 'X-SDK-Version': '3.5.1'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const resp = await fetch(API + path, {method: method, headers: headers, credentials: 'omit',
                                        body: body === undefined ? undefined : JSON.stringify(body)});
  return {status: resp.status, body: await resp.json()};
}
function waitForResult(popup, state) {
  return new Promise(function (resolve) {
    function cleanup() { window.removeEventListener('message', onMessage); clearInterval(timer); }
    function onMessage(e) {
      const d = e.data;
      if (!d || d.type !== 'pw-oauth' || d.messageId !== state) return;
      cleanup();
      resolve(d.status === 'success' ? {kind: 'code', code: d.code}
        : {kind: 'error', error: d.error, errorCode: d.errorCode || null, description: d.description || null});
    }
    const timer = setInterval(function () { if (popup.closed) { cleanup(); resolve({kind: 'cancelled'}); } }, 500);
    window.addEventListener('message', onMessage);
  });
}
async function signIn(linkAnonymous) {
  const out = document.getElementById('result');
  // As the SDK after signInAnonymously(): oauth/init carries the session's Bearer, so the identity links.
  const anon = linkAnonymous ? await call('POST', '/api/v1/paywall/' + PAYWALL + '/auth/anonymous/signin', {})
    : null;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(64)));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const challenge = b64url(new Uint8Array(digest));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const init = await call('POST', '/api/v1/paywall/' + PAYWALL + '/auth/oauth/init',
                          {provider: 'google', code_challenge: challenge, code_challenge_method: 's256'},
                          anon ? anon.body.access_token : undefined);
  const popup = window.open(init.body.authorize_url, 'pw-oauth-' + state, 'width=480,height=640');
  const result = await waitForResult(popup, state);
  try { popup.close(); } catch (e) { /* as the SDK: it closes the popup itself */ }
  if (result.kind !== 'code') { out.textContent = JSON.stringify({done: true, result: result}); return; }
  const session = await call('POST', '/api/v1/paywall/' + PAYWALL + '/auth/oauth/exchange',
                             {auth_code: result.code, code_verifier: verifier});
  const user = await call('GET', '/api/v1/paywall/' + PAYWALL + '/user', undefined, session.body.access_token);
  out.textContent = JSON.stringify({done: true, result: {kind: result.kind}, exchange: session.status,
                                    user: session.body.user, bearerCall: user,
                                    anonymousId: anon ? anon.body.user.id : null});
}
document.getElementById('signin').addEventListener('click', function () { signIn(false); });
document.getElementById('link').addEventListener('click', function () { signIn(true); });
</script></body></html>
"""


@pytest.fixture(scope="module")
def app_origin(emulator: Any) -> Iterator[str]:
    """The integrator's app: another site than the emulator, serving APP_PAGE."""
    html = (APP_PAGE % {"api": json.dumps(emulator.base_url), "paywall": json.dumps(STRIPE_PW)}).encode()

    with local_site(static_site(lambda _: (html, HTML))) as port:
        yield f"http://localhost:{port}"  # another site than 127.0.0.1: a real cross-site popup


def sign_in(app: Page, app_origin: str, button: str, *, start: str = "#signin", **identity: str) -> dict[str, Any]:
    from playwright.sync_api import expect  # lazily: without playwright the `browser` fixture says what to install

    app.goto(f"{app_origin}/")
    with app.expect_popup() as info:
        app.locator(start).click()
    popup = info.value
    popup.wait_for_load_state()
    assert popup.get_by_test_id("approve").is_visible()
    for name, value in identity.items():
        popup.get_by_test_id(name).fill(value)
    popup.get_by_test_id(button).click()
    expect(app.locator("#result")).to_contain_text('"done":true')
    if not popup.is_closed():
        popup.wait_for_event("close")
    result: dict[str, Any] = json.loads(app.locator("#result").inner_text())
    return result


def test_oauth_popup_sign_in_then_a_bearer_call(page: Page, app_origin: str, api: Api) -> None:  # noqa: F811
    result = sign_in(page, app_origin, "approve", name="Quinn Browser", email="quinn.browser@example.com")
    assert result["result"] == {"kind": "code"} and result["exchange"] == 200
    user = result["user"]
    assert user["email"] == "quinn.browser@example.com" and user["name"] == "Quinn Browser"
    assert user["is_anonymous"] is False
    bearer_call = result["bearerCall"]
    assert bearer_call["status"] == 200 and bearer_call["body"]["user"]["id"] == user["id"]
    assert bearer_call["body"]["purchases"] == [] and bearer_call["body"]["paid"] is False


def test_oauth_popup_provider_errors_reach_the_opener(page: Page, app_origin: str, api: Api) -> None:  # noqa: F811
    cancelled = sign_in(page, app_origin, "cancel")
    assert cancelled["result"] == {"kind": "error", "error": "access_denied", "errorCode": None,
                                   "description": "The user cancelled the sign-in at the provider"}
    linked = sign_in(page, app_origin, "already-linked")
    assert linked["result"] == {"kind": "error", "error": "server_error", "errorCode": "identity_already_exists",
                                "description": "Identity is already linked to another user"}


def test_oauth_popup_links_the_anonymous_user(page: Page, app_origin: str, api: Api) -> None:  # noqa: F811
    result = sign_in(page, app_origin, "approve", start="#link", name="Gus Guest", email="gus.guest@example.com")
    assert result["exchange"] == 200 and result["anonymousId"]
    user = result["user"]
    assert user["id"] == result["anonymousId"]  # linked: the same user, no longer anonymous
    assert user["email"] == "gus.guest@example.com" and user["is_anonymous"] is False
    assert result["bearerCall"]["status"] == 200 and result["bearerCall"]["body"]["user"]["id"] == user["id"]
