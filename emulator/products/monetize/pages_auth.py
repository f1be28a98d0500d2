"""HTML of the sign-in pages: the OAuth callback (hands the code or the provider's error to the SDK's
window), the e-mail confirmation and password-reset landings, and the fake OAuth provider's page.
Pure rendering: every value is escaped, every page is ASCII with its style and script inline (no
external assets). No aiohttp, no store access.
"""

from __future__ import annotations

from html import escape

from .models_auth import OAuthFlow, OAuthIdentity

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1f2330}
header{background:#334155;color:#fff;padding:14px 24px;font-weight:600}
header small{font-weight:400;opacity:.85;margin-left:8px}
main{max-width:520px;margin:24px auto;background:#fff;border-radius:10px;padding:24px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.2rem;margin:0 0 12px}
label{display:block;margin:12px 0 4px;color:#5b6070}
input{width:100%;box-sizing:border-box;padding:8px;font:inherit;border:1px solid #c9ccd4;border-radius:6px}
.buttons{display:flex;flex-wrap:wrap;gap:8px;margin-top:16px}
button{font:inherit;padding:8px 16px;border-radius:6px;border:1px solid #c9ccd4;background:#fff;cursor:pointer}
button.primary{background:#334155;border-color:#334155;color:#fff}
.banner{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c14;padding:8px 12px;border-radius:6px;margin:0 0 16px}
"""

# Reads the code (query) or the provider's error (fragment, as real providers send it), takes the
# SDK's state from the popup's window name `pw-oauth-<state>`, posts it to the opener, then closes.
_CALLBACK_SCRIPT = """
(function () {
  var query = new URLSearchParams(window.location.search);
  var hash = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  var name = window.name || '';
  var state = name.indexOf('pw-oauth-') === 0 ? name.slice('pw-oauth-'.length) : '';
  var error = hash.get('error') || query.get('error');
  var code = query.get('code');
  var message;
  if (code && !error) {
    message = {type: 'pw-oauth', status: 'success', code: code, messageId: state};
  } else {
    message = {type: 'pw-oauth', status: 'error', error: error || 'oauth_error', messageId: state};
    var errorCode = hash.get('error_code') || query.get('error_code');
    var description = hash.get('error_description') || query.get('error_description');
    if (errorCode) { message.errorCode = errorCode; }
    if (description) { message.description = description; }
  }
  var status = document.getElementById('status');
  document.body.setAttribute('data-status', message.status);
  if (!window.opener) {
    status.textContent = 'There is no window to return to: this page finishes a sign-in popup.';
    return;
  }
  window.opener.postMessage(message, '*');
  status.textContent = message.status === 'success' ? 'Signed in. This window closes itself.'
    : 'Sign-in failed (' + message.error + '). This window closes itself.';
  // The SDK closes the popup itself once the message arrives; closing here too, a moment later, keeps
  // the message ahead of the opener's poll of popup.closed (they travel separately between processes).
  setTimeout(function () { window.close(); }, 1000);
})();
"""

# "Then closes its own tab" (the SDK's copy); a tab the user opened from a mail client may refuse.
_CLOSE_SOON = "setTimeout(function () { window.close(); }, 3500);"


def _page(title: str, body: str, *, testid: str, script: str = "", status: str = "") -> str:
    marker = f' data-status="{escape(status)}"' if status else ""
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head>"
        f'<body data-testid="{testid}"{marker}><header>{escape(title)}<small>paywall-emulator</small></header>'
        f"<main>{body}</main>" + (f"<script>{script}</script>" if script else "") + "</body></html>\n"
    ).encode("ascii", "xmlcharrefreplace").decode("ascii")


def render_callback_page() -> str:
    return _page("Signing in", '<p id="status" data-testid="status">Finishing the sign-in...</p>',
                 testid="oauth-callback", script=_CALLBACK_SCRIPT)


def render_confirmed_page(email: str | None) -> str:
    body = (f'<h1>E-mail confirmed</h1><p data-testid="email">{escape(email or "")}</p>'
            "<p>You can close this tab and return to the app; it signs you in.</p>")
    return _page("E-mail confirmed", body, testid="confirm-page", status="confirmed", script=_CLOSE_SOON)


def render_link_error_page(title: str, code: str, message: str) -> str:
    body = (f'<p class="banner" role="alert" data-testid="message" data-code="{escape(code)}">{escape(message)}</p>'
            "<p>Request a new e-mail from the app.</p>")
    return _page(title, body, testid="link-error", status="error")


def render_reset_form(token: str, message: str | None = None) -> str:
    banner = f'<p class="banner" role="alert" data-testid="message">{escape(message)}</p>' if message else ""
    body = (f"<h1>Choose a new password</h1>{banner}"
            '<form method="post" action="/paywall/auth/reset">'
            f'<input type="hidden" name="token" value="{escape(token)}">'
            '<label for="password">New password</label>'
            '<input id="password" name="password" type="password" data-testid="password" autocomplete="new-password">'
            '<div class="buttons"><button class="primary" type="submit" data-testid="save">Save password</button>'
            "</div></form>")
    return _page("Reset your password", body, testid="reset-page", status="form")


def render_reset_done_page(email: str | None) -> str:
    body = (f'<h1>Password updated</h1><p data-testid="email">{escape(email or "")}</p>'
            "<p>Sign in with the new password in the app.</p>")
    return _page("Password updated", body, testid="reset-page", status="updated")


def render_provider_page(flow: OAuthFlow, suggested: OAuthIdentity, message: str | None = None) -> str:
    """The fake provider: pick who signs in (name, e-mail, avatar) or answer with an error."""
    banner = f'<p class="banner" role="alert" data-testid="message">{escape(message)}</p>' if message else ""
    provider = escape(flow.provider.capitalize())
    if flow.status != "pending":
        body = f'{banner}<p data-testid="flow-status">This sign-in is {escape(flow.status)}.</p>'
        return _page(f"{provider} (emulated)", body, testid="oauth-provider", status=flow.status)
    linking = "<p data-testid=\"linking\">Linking to the signed-in user.</p>" if flow.link_user_id else ""

    def field(name: str, label: str, value: str | None) -> str:
        return (f'<label for="{name}">{label}</label>'
                f'<input id="{name}" name="{name}" type="text" data-testid="{name}" value="{escape(value or "")}">')

    body = (f"<h1>Sign in with {provider}</h1>{banner}{linking}"
            '<form method="post" action="/_emulator/oauth/authorize">'
            f'<input type="hidden" name="flow" value="{escape(flow.id)}">'
            + field("name", "Name", suggested.name) + field("email", "E-mail", suggested.email)
            + field("avatar", "Avatar URL", suggested.avatar)
            + '<div class="buttons">'
            '<button class="primary" type="submit" name="action" value="approve" data-testid="approve">'
            "Continue</button>"
            '<button type="submit" name="action" value="cancel" data-testid="cancel">Cancel</button>'
            '<button type="submit" name="action" value="identity_already_exists" data-testid="already-linked">'
            "Fail: identity already linked</button></div></form>")
    return _page(f"{provider} (emulated)", body, testid="oauth-provider", status="pending")
