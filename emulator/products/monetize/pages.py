"""HTML of the hosted fake pages: the checkout page a hosted `checkoutUrl` opens (and its outcome), the
customer portal a hosted portal `url` opens, and the paywall domain's default return pages. Pure
rendering from entities the handlers looked up: every value is escaped here, nothing is decided here
(what is payable or cancellable comes in as arguments). No aiohttp, no store access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape

from ...engine.structs import struct
from .acquirers import Acquirer
from .models import CheckoutSession, Paywall, PortalSession, Price, Subscription, User

# What the card field holds when the page opens: Stripe's well-known "always succeeds" test card.
DEFAULT_CARD = "4242 4242 4242 4242"

_OUTCOME_TEXT = {
    "paid": "Payment received",
    "declined": "Payment declined",
    "cancelled": "Checkout cancelled",
    "expired": "Checkout expired",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1f2330}
header{background:var(--brand);color:#fff;padding:14px 24px;font-weight:600}
header small{font-weight:400;opacity:.85;margin-left:8px}
main{max-width:560px;margin:24px auto;background:#fff;border-radius:10px;padding:24px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:0 0 12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0 0 16px}
dt{color:#5b6070}dd{margin:0;overflow-wrap:anywhere}
.amount{font-size:1.6rem;font-weight:700}
label{display:block;margin:12px 0 4px;color:#5b6070}
input[type=text]{width:100%;box-sizing:border-box;padding:8px;font:inherit;font-family:monospace;
border:1px solid #c9ccd4;border-radius:6px}
.buttons{display:flex;gap:8px;margin-top:16px}
button{font:inherit;padding:8px 16px;border-radius:6px;border:1px solid #c9ccd4;background:#fff;cursor:pointer}
button.primary{background:var(--brand);border-color:var(--brand);color:#fff}
.banner{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c14;padding:8px 12px;border-radius:6px;margin:0 0 16px}
.outcome{font-size:1.1rem;font-weight:600}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 4px;border-bottom:1px solid #eceef2}
.cards{font-size:.9rem;color:#5b6070}code{font-size:.9rem}
"""


@struct(kw_only=True)
class PortalRow:
    """One subscription as the portal shows it; `cancellable` is the caller's (domain's) answer."""

    subscription: Subscription
    price: Price | None
    cancellable: bool


def render_checkout_page(*, session: CheckoutSession, paywall: Paywall, price: Price, user: User,
                         acquirer: Acquirer, message: str | None = None, fixed_return: str | None = None) -> str:
    """An open session: the summary, the card field and Pay / Decline / Cancel. Any other session: its
    outcome (for an acquirer that does not redirect, the only thing the buyer ever sees, with a link
    to its `fixed_return` landing)."""
    body = [_banner(message), _summary(session, paywall, price, user)]
    if session.status == "open":
        body.append(_checkout_form(acquirer))
    else:
        body.append(_outcome(session, paywall, acquirer, fixed_return))
    title = f"{acquirer.display_name} — {_merchant(paywall)}"
    return _page(title, acquirer, "".join(body), testid="checkout-page")


def render_portal_page(*, portal: PortalSession, paywall: Paywall, user: User, rows: Iterable[PortalRow],
                       acquirer: Acquirer, message: str | None = None) -> str:
    """The user's subscriptions on the paywall, a Cancel button for each cancellable one, and a link
    back to the merchant."""
    listed = list(rows)
    parts = [_banner(message), f'<h1>Your subscriptions at {escape(_merchant(paywall))}</h1>',
             f'<p>Signed in as <span data-testid="portal-email">{escape(user.email or user.id)}</span></p>']
    if listed:
        parts.append('<table data-testid="subscriptions"><thead><tr><th>Plan</th><th>Status</th>'
                     '<th>Current period ends</th><th>Cancels at period end</th><th></th></tr></thead><tbody>')
        parts.extend(_portal_row(row) for row in listed)
        parts.append("</tbody></table>")
    else:
        parts.append('<p data-testid="no-subscriptions">No subscriptions.</p>')
    if portal.return_url:
        parts.append(f'<p><a data-testid="return-link" href="{escape(portal.return_url)}">'
                     f"Return to {escape(_merchant(paywall))}</a></p>")
    return _page(f"{acquirer.display_name} portal — {_merchant(paywall)}", acquirer, "".join(parts),
                 testid="portal-page")


# The return pages' script: the acquirer's markers sit in the fragment (the server never sees them),
# so the page reads them (fragment first, then query, as the SDK does), shows the outcome and tells
# an opener tab, like the real landing page.
_RETURN_SCRIPT = (
    "(function(){var h=location.hash.slice(1);var p=new URLSearchParams(h.indexOf('paywall_status=')>=0?h:"
    "location.search.slice(1));var s=p.get('paywall_status'),pr=p.get('paywall_price_id'),"
    "se=p.get('paywall_session_id');var t={paid:'Payment done',failed:'Payment failed',"
    "cancelled:'Checkout cancelled'};var e=document.querySelector('[data-testid=return-status]');"
    "if(s&&t[s]){e.textContent=t[s];e.setAttribute('data-status',s);}"
    "if(pr){document.querySelector('[data-testid=price-id]').textContent=pr;}"
    "if(se){document.querySelector('[data-testid=session-id]').textContent=se;}"
    "if(s&&window.opener){try{window.opener.postMessage({type:'paywall_purchase',status:s,priceId:pr,"
    "sessionId:se},'*');}catch(x){}}})();"
)
_RETURN_TEXT = {"success": ("paid", "Payment done"), "error": ("failed", "Payment not completed")}


def render_checkout_return_page(*, paywall: Paywall, outcome: str, back_url: str | None) -> str:
    """`/paywall/<id>/checkout/success|error`: where a checkout returns without a merchant URL. The
    status comes from the page (`outcome`) and, in a browser, from the markers in the fragment."""
    status, text = _RETURN_TEXT[outcome]
    parts = [f'<h1 data-testid="return-status" data-status="{status}">{escape(text)}</h1>',
             f'<p data-testid="merchant">{escape(_merchant(paywall))}</p>',
             '<dl><dt>Price</dt><dd data-testid="price-id"></dd>'
             '<dt>Session</dt><dd data-testid="session-id"></dd></dl>',
             _back(paywall, back_url), f"<script>{_RETURN_SCRIPT}</script>"]
    return _plain_page(f"{text} — {_merchant(paywall)}", "".join(parts), testid=f"checkout-{outcome}-page")


def render_portal_return_page(*, paywall: Paywall, back_url: str | None) -> str:
    """`/paywall/<id>/customer-portal/return`: where the portal returns without a `returnUrl`."""
    parts = ['<h1 data-testid="return-status" data-status="portal">Back from the customer portal</h1>',
             f'<p data-testid="merchant">{escape(_merchant(paywall))}</p>', _back(paywall, back_url)]
    return _plain_page(f"Customer portal — {_merchant(paywall)}", "".join(parts), testid="portal-return-page")


def render_freemius_return_page() -> str:
    """`/freemius/return`: Freemius's fixed landing, which carries no markers and names no paywall."""
    parts = ['<h1 data-testid="return-status" data-status="unknown">Thank you</h1>',
             "<p>Freemius is processing your payment. Your access appears in the app once the payment is "
             "confirmed; you can close this tab.</p>"]
    return _plain_page("Freemius — payment processing", "".join(parts), testid="freemius-return-page")


def _back(paywall: Paywall, back_url: str | None) -> str:
    if not back_url:
        return '<p data-testid="close-hint">You can close this tab.</p>'
    return (f'<p><a data-testid="back-link" href="{escape(back_url)}">Back to {escape(_merchant(paywall))}</a>'
            "</p>")


def _plain_page(title: str, body: str, *, testid: str) -> str:
    """A page of the paywall's own domain (not an acquirer's): neutral colours."""
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>:root{{--brand:#1f2330}}{_CSS}</style></head>"
        f'<body data-testid="{testid}"><main>{body}</main></body></html>\n'
    ).encode("ascii", "xmlcharrefreplace").decode("ascii")


def render_portal_used_page(*, portal: PortalSession, paywall: Paywall, acquirer: Acquirer) -> str:
    """A portal link opened a second time (another browser): the link is one-time."""
    parts = ['<h1 data-testid="link-used">This link was already used</h1>',
             f"<p>Customer portal links of {escape(_merchant(paywall))} work once. Ask "
             f"{escape(_merchant(paywall))} for a new link.</p>"]
    if portal.return_url:
        parts.append(f'<p><a data-testid="return-link" href="{escape(portal.return_url)}">'
                     f"Return to {escape(_merchant(paywall))}</a></p>")
    return _page(f"{acquirer.display_name} portal — link used", acquirer, "".join(parts), testid="portal-used-page")


# --- pieces --------------------------------------------------------------------------------------


def _page(title: str, acquirer: Acquirer, body: str, *, testid: str) -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>:root{{--brand:{escape(acquirer.brand_color)}}}{_CSS}</style></head>"
        f'<body data-testid="{testid}" data-acquirer="{escape(acquirer.name)}">'
        f'<header data-testid="acquirer">{escape(acquirer.display_name)}<small>test mode · paywall-emulator</small>'
        f"</header><main>{body}</main></body></html>\n"
    ).encode("ascii", "xmlcharrefreplace").decode("ascii")  # readable whatever charset a client assumes


def _banner(message: str | None) -> str:
    return f'<p class="banner" role="alert" data-testid="message">{escape(message)}</p>' if message else ""


def _merchant(paywall: Paywall) -> str:
    return paywall.checkout_product_name or paywall.name


def _summary(session: CheckoutSession, paywall: Paywall, price: Price, user: User) -> str:
    rows: list[tuple[str, str, str]] = [
        ("Merchant", "merchant", _merchant(paywall)),
        ("Plan", "price-label", price.label or price.id),
        ("Billed", "interval", _interval(price)),
        ("E-mail", "email", user.email or ""),
    ]
    if session.trial_days:
        rows.append(("Free trial", "trial", f"{session.trial_days} days"))
    rows.append(("Session", "session-id", session.id))
    items = "".join(f'<dt>{escape(name)}</dt><dd data-testid="{testid}">{escape(value)}</dd>'
                    for name, testid, value in rows)
    return (f'<h1>Pay {escape(_merchant(paywall))}</h1>'
            f'<p class="amount" data-testid="amount">{escape(_money(price))}</p><dl>{items}</dl>')


def _checkout_form(acquirer: Acquirer) -> str:
    return (
        '<form method="post" data-testid="checkout-form">'
        '<label for="card">Card number</label>'
        f'<input type="text" id="card" name="card" data-testid="card" value="{escape(DEFAULT_CARD)}" '
        'autocomplete="off" inputmode="numeric">'
        f"{_magic_cards(acquirer.test_cards)}"
        '<div class="buttons">'
        '<button type="submit" class="primary" name="action" value="pay" id="pay" data-testid="pay">Pay</button>'
        '<button type="submit" name="action" value="decline" id="decline" data-testid="decline">Decline</button>'
        '<button type="submit" name="action" value="cancel" id="cancel" data-testid="cancel">Cancel</button>'
        "</div></form>"
    )


def _magic_cards(cards: Mapping[str, tuple[str, str]]) -> str:
    items = [f'<li><code>{escape(_grouped(DEFAULT_CARD))}</code> pays</li>']
    for digits, (effect, reason) in cards.items():
        what = f"declines ({reason})" if effect == "decline" else "pays, then every renewal charge fails"
        items.append(f'<li data-card="{escape(digits)}"><code>{escape(_grouped(digits))}</code> {escape(what)}</li>')
    return f'<ul class="cards" data-testid="magic-cards">{"".join(items)}</ul>'


def _outcome(session: CheckoutSession, paywall: Paywall, acquirer: Acquirer, fixed_return: str | None) -> str:
    text = _OUTCOME_TEXT.get(session.status, session.status)
    if session.outcome_reason and session.status == "declined":
        text = f"{text} ({session.outcome_reason})"
    parts = [f'<p class="outcome" data-testid="outcome" data-status="{escape(session.status)}">{escape(text)}</p>']
    if not acquirer.redirects_on_success:
        # Freemius never sends the buyer back: the merchant learns the result from its backend/webhooks.
        parts.append(f'<p data-testid="return-hint">{escape(_OUTCOME_TEXT.get(session.status, session.status))}'
                     f" — return to {escape(_merchant(paywall))}.</p>")
        if fixed_return:
            parts.append(f'<p><a data-testid="fixed-return-link" href="{escape(fixed_return)}">'
                         f"Return to {escape(_merchant(paywall))}</a></p>")
    if session.shop_url:
        parts.append(f'<p><a data-testid="shop-link" href="{escape(session.shop_url)}">'
                     f"Back to {escape(_merchant(paywall))}</a></p>")
    return "".join(parts)


def _portal_row(row: PortalRow) -> str:
    sub = row.subscription
    label = (row.price.label or row.price.id) if row.price else sub.price_id
    button = ""
    if row.cancellable:
        button = ('<form method="post"><input type="hidden" name="action" value="cancel">'
                  f'<input type="hidden" name="subscription_id" value="{escape(sub.id)}">'
                  f'<button type="submit" data-testid="cancel-{escape(sub.id)}">Cancel</button></form>')
    flag = "yes" if sub.cancel_at_period_end else "no"
    return (f'<tr data-testid="subscription" data-subscription-id="{escape(sub.id)}">'
            f"<td>{escape(label)}</td>"
            f'<td data-testid="status">{escape(sub.status)}</td>'
            f'<td data-testid="period-end">{escape(_day(sub.current_period_end))}</td>'
            f'<td data-testid="cancel-at-period-end">{flag}</td>'
            f"<td>{button}</td></tr>")


# --- formatting ----------------------------------------------------------------------------------


def _money(price: Price) -> str:
    return f"{price.amount:,.2f} {price.currency}"


def _interval(price: Price) -> str:
    if price.is_lifetime:
        return "once (lifetime)"
    count = price.interval_count or 1
    return f"every {price.interval}" if count == 1 else f"every {count} {price.interval}s"


def _grouped(digits: str) -> str:
    plain = "".join(c for c in digits if c.isdigit())
    return " ".join(plain[i:i + 4] for i in range(0, len(plain), 4))


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")
