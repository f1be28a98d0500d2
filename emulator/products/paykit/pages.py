"""HTML of the fake Stripe pages PayKit's checkout and portal URLs open: the Checkout page (what is
bought, its price, Pay and Cancel) and the billing portal (the customer's subscriptions, Cancel now or at
the period end, the way back). Pure rendering: every value escaped here, nothing decided here. No aiohttp.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from .models import CheckoutSession, PortalSession, Project, Subscription

DEFAULT_CARD = "4242 4242 4242 4242"
_STATUS_TEXT = {"complete": "Payment received", "expired": "This checkout session has expired",
                "canceled": "Checkout cancelled"}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f9fc;color:#1a1f36}
header{background:#635bff;color:#fff;padding:14px 24px;font-weight:600}
header small{font-weight:400;opacity:.85;margin-left:8px}
main{max-width:520px;margin:24px auto;background:#fff;border-radius:10px;padding:24px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.2rem;margin:0 0 12px}.amount{font-size:1.6rem;font-weight:700}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px}dt{color:#697386}dd{margin:0;overflow-wrap:anywhere}
label{display:block;margin:12px 0 4px;color:#697386}
input[type=text]{width:100%;box-sizing:border-box;padding:8px;font:inherit;border:1px solid #c9ccd4;border-radius:6px}
.buttons{display:flex;gap:8px;margin-top:16px}
button{font:inherit;padding:8px 16px;border-radius:6px;border:1px solid #c9ccd4;background:#fff;cursor:pointer}
button.primary{background:#635bff;border-color:#635bff;color:#fff}
.banner{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c14;padding:8px 12px;border-radius:6px}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 4px;border-bottom:1px solid #eceef2}
"""


def render_checkout_page(*, session: CheckoutSession, project: Project, message: str | None = None) -> str:
    what = "PayKit Pro" if session.kind == "pro" else "100 credits"
    billed = "every month" if session.kind == "pro" else "once"
    rows = [("Merchant", "merchant", project.name), ("Product", "product", what), ("Billed", "interval", billed),
            ("Customer", "user-id", session.user_id), ("Session", "session-id", session.id)]
    items = "".join(f'<dt>{escape(n)}</dt><dd data-testid="{t}">{escape(v)}</dd>' for n, t, v in rows)
    parts = [_banner(message), f"<h1>Pay {escape(project.name)}</h1>",
             f'<p class="amount" data-testid="amount">${session.amount_cents / 100:.2f} USD</p><dl>{items}</dl>']
    if session.status == "open":
        parts.append(
            '<form method="post" data-testid="checkout-form"><label for="card">Card number</label>'
            f'<input type="text" id="card" name="card" data-testid="card" value="{DEFAULT_CARD}" autocomplete="off">'
            '<div class="buttons"><button type="submit" class="primary" name="action" value="pay" data-testid="pay">'
            "Pay</button>"
            '<button type="submit" name="action" value="cancel" data-testid="cancel">Cancel</button></div></form>')
    else:
        text = _STATUS_TEXT.get(session.status, session.status)
        parts.append(f'<p data-testid="outcome" data-status="{escape(session.status)}">{escape(text)}</p>')
    return _page(f"Stripe Checkout — {project.name}", "".join(parts), testid="checkout-page")


def render_portal_page(*, portal: PortalSession, project: Project, subscriptions: list[Subscription],
                       message: str | None = None) -> str:
    parts = [_banner(message), f"<h1>Billing at {escape(project.name)}</h1>",
             f'<p>Customer <span data-testid="customer">{escape(portal.customer_id)}</span></p>']
    if subscriptions:
        parts.append('<table data-testid="subscriptions"><thead><tr><th>Plan</th><th>Status</th>'
                     "<th>Current period ends</th><th>Cancels at period end</th><th></th></tr></thead><tbody>")
        parts.extend(_row(sub) for sub in subscriptions)
        parts.append("</tbody></table>")
    else:
        parts.append('<p data-testid="no-subscriptions">No subscriptions.</p>')
    parts.append(f'<p><a data-testid="return-link" href="{escape(portal.return_url)}">'
                 f"Return to {escape(project.name)}</a></p>")
    return _page(f"Stripe billing portal — {project.name}", "".join(parts), testid="portal-page")


def _row(sub: Subscription) -> str:
    buttons = ""
    if sub.status == "active":
        hidden = f'<input type="hidden" name="subscription" value="{escape(sub.id)}">'
        buttons = (f'<form method="post">{hidden}<button type="submit" name="action" value="cancel_now" '
                   f'data-testid="cancel-now">Cancel now</button>'
                   + ("" if sub.cancel_at_period_end else
                      '<button type="submit" name="action" value="cancel_at_period_end" '
                      'data-testid="cancel-at-period-end">Cancel at period end</button>')
                   + "</form>")
    return (f'<tr data-testid="subscription" data-subscription-id="{escape(sub.id)}"><td>PayKit Pro, $19.00/month</td>'
            f'<td data-testid="status">{escape(sub.status)}</td><td>{escape(_day(sub.current_period_end))}</td>'
            f'<td data-testid="cancel-flag">{"yes" if sub.cancel_at_period_end else "no"}</td><td>{buttons}</td></tr>')


def _banner(message: str | None) -> str:
    return f'<p class="banner" role="alert" data-testid="message">{escape(message)}</p>' if message else ""


def _page(title: str, body: str, *, testid: str) -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
        f'<body data-testid="{testid}"><header>Stripe<small>test mode · paywall-emulator</small></header>'
        f"<main>{body}</main></body></html>\n"
    ).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")
