"""HTML of the Paywalls.ai hosted pages: the fake Stripe Checkout page of a top-up session and the shared
wallet's authorization page, each with its outcome. Pure rendering: every value escaped, no external
assets, nothing decided here.
"""

from __future__ import annotations

from html import escape

from .models import AuthorizationRequest, Paywall, TopupSession
from .money import format_price, format_units

DEFAULT_CARD = "4242 4242 4242 4242"
AMOUNT_PATTERN = r"[0-9]{1,30}(\.[0-9]{1,18})?"  # the browser refuses what the form schema would
_CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f6f9fc;color:#1a1f36}
header{background:#635bff;color:#fff;padding:14px 24px;font-weight:600}
main{max-width:520px;margin:24px auto;background:#fff;border-radius:10px;padding:24px;box-shadow:0 1px 4px #0002}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px}dt{color:#697386}dd{margin:0;overflow-wrap:anywhere}
label{display:block;margin:12px 0 4px;color:#697386}
input{width:100%;box-sizing:border-box;padding:8px;font:inherit;border:1px solid #c9ccd4;border-radius:6px}
.buttons{display:flex;gap:8px;margin-top:16px}
button{font:inherit;padding:8px 16px;border-radius:6px;border:1px solid #c9ccd4;background:#fff}
button.primary{background:#635bff;border-color:#635bff;color:#fff}
.banner{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c14;padding:8px 12px;border-radius:6px}
.outcome{font-size:1.1rem;font-weight:600}
"""
_TOPUP_OUTCOME = {"paid": "Payment received: your balance was topped up", "cancelled": "Top-up cancelled"}
_AUTH_OUTCOME = {"approved": "Authorized: you can return to the app", "declined": "Authorization declined"}


def render_topup_page(*, session: TopupSession, paywall: Paywall, balance: int, message: str | None = None) -> str:
    summary = (f"<dl><dt>Merchant</dt><dd data-testid=merchant>{escape(paywall.name)}</dd>"
               f"<dt>User</dt><dd data-testid=user>{escape(session.user_id)}</dd>"
               f"<dt>Balance</dt><dd data-testid=balance>{escape(format_units(balance))} USDC</dd></dl>")
    if session.status == "open":
        action = f"/_emulator/paywalls-ai/topup/{escape(session.id)}"
        form = (f'<form method=post action="{action}"><label for=amount>Amount (USD)</label>'
                f'<input id=amount name=amount data-testid=amount inputmode=decimal required '
                f'pattern="{AMOUNT_PATTERN}" value="{escape(format_price(session.amount))}">'
                f'<label for=card>Card number</label><input id=card name=card data-testid=card value="{DEFAULT_CARD}">'
                '<div class=buttons><button class=primary name=action value=pay data-testid=pay>Pay</button>'
                '<button name=action value=cancel data-testid=cancel>Cancel</button></div></form>')
    else:
        paid = f" ({escape(format_price(session.amount))} USD)" if session.status == "paid" else ""
        form = f"<p class=outcome data-testid=outcome>{escape(_TOPUP_OUTCOME[session.status])}{paid}</p>"
    return _page("Top up your balance", f"{_banner(message)}{summary}{form}", testid="topup")


def render_authorization_page(*, request: AuthorizationRequest, paywall: Paywall, message: str | None = None) -> str:
    summary = (f"<p><strong data-testid=app>{escape(paywall.name)}</strong> asks to charge your Paywalls wallet "
               f"for what you use in it.</p><dl><dt>User</dt><dd data-testid=user>{escape(request.user_id)}</dd></dl>")
    if request.status == "open":
        action = f"/_emulator/paywalls-ai/authorize/{escape(request.id)}"
        form = (f'<form method=post action="{action}"><div class=buttons>'
                '<button class=primary name=action value=approve data-testid=approve>Approve</button>'
                '<button name=action value=decline data-testid=decline>Decline</button></div></form>')
    else:
        form = f"<p class=outcome data-testid=outcome>{escape(_AUTH_OUTCOME[request.status])}</p>"
    return _page("Authorize an app", f"{_banner(message)}{summary}{form}", testid="authorize")


def _banner(message: str | None) -> str:
    return f"<p class=banner role=alert data-testid=banner>{escape(message)}</p>" if message else ""


def _page(title: str, body: str, *, testid: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body data-testid={testid}><header>Paywalls.ai (emulator)</header>"
            f"<main><h1>{escape(title)}</h1>{body}</main></body></html>")
