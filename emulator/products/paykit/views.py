"""Every JSON body PayKit answers, built from entities and domain results: accounts (with the caller's
own `userId`), meter results, analytics, account lists, projects, and the state dump of the control API.
Field names follow spec/paykit.openapi.yaml. No aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ...engine.product import Page
from ...engine.views import render_page
from .domain.analytics import Analytics, Stats
from .domain.ledger import MeterResult
from .models import Account, CheckoutSession, Project, StripeEvent, Subscription, UsageEvent
from .state import PayKitState
from .views_stripe import render_event_payload


def js_iso(value: datetime) -> str:
    """JavaScript's `toISOString()`: UTC, milliseconds, `Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def render_account(acct: Account) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": acct.user_id, "plan": acct.plan, "credits": acct.credits,
                            "entitlements": list(acct.entitlements)}
    if acct.stripe_customer_id is not None:
        body["stripeCustomerId"] = acct.stripe_customer_id
    return body


def render_meter(result: MeterResult) -> dict[str, Any]:
    return {"ok": True, "remaining": result.remaining}


def render_url(url: str) -> dict[str, str]:
    return {"url": url}


def render_stats(stats: Stats) -> dict[str, int]:
    return {"total": stats.total, "pro": stats.pro, "mrr": stats.mrr, "creditsOutstanding": stats.credits_outstanding}


def render_usage(event: UsageEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": event.user_id, "kind": event.kind, "name": event.name, "amount": event.amount}
    if event.cost_usd is not None:
        body["costUsd"] = event.cost_usd
    body["at"] = js_iso(event.at)
    return body


def render_analytics(data: Analytics) -> dict[str, Any]:
    return {
        "meteredThisMonth": data.metered_this_month, "creditsSoldThisMonth": data.credits_sold_this_month,
        "costUsd": data.cost_usd, "revenueUsd": data.revenue_usd, "netUsd": data.net_usd,
        "marginPct": data.margin_pct,
        "topEvents": [{"name": name, "count": count} for name, count in data.top_events],
        "series": [{"label": f"{d.day.month}/{d.day.day}", "metered": d.metered, "granted": d.granted}
                   for d in data.series],
        "recent": [render_usage(e) for e in data.recent],
        "stats": render_stats(data.stats),
    }


def render_accounts(accounts: list[Account], stats: Stats) -> dict[str, Any]:
    return {"accounts": [render_account(a) for a in accounts],
            "stats": {**render_stats(stats), "free": stats.total - stats.pro}}


def render_project(project: Project) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "publishableKey": project.publishable_key,
            "secretKey": project.secret_key, "secureMetering": project.secure_metering}


def render_projects(projects: list[Project], *, auth_configured: bool) -> dict[str, Any]:
    return {"projects": [render_project(p) for p in projects], "authConfigured": auth_configured}


def render_secure_metering(project: Project) -> dict[str, Any]:
    return {"id": project.id, "secureMetering": project.secure_metering}


# --- control API ---------------------------------------------------------------------------------


def render_stripe_events(events: Iterable[StripeEvent], page: Page) -> dict[str, Any]:
    return {"events": [render_stripe_event(e) for e in events], "page": render_page(page)}


def render_stripe_event(event: StripeEvent) -> dict[str, Any]:
    """An event of the fake Stripe's outbox; `payload` is the bytes it is (or will be) sent with."""
    payload = event.payload if event.payload is not None else render_event_payload(event)
    return {
        "id": event.id, "type": event.type, "projectId": event.project_id, "created": js_iso(event.created),
        "url": event.url, "status": event.status, "payload": payload.decode(),
        "attempts": [{"at": js_iso(a.at), "status": a.status, "body": a.body} for a in event.attempts],
    }


def render_checkout_session(session: CheckoutSession) -> dict[str, Any]:
    return {"id": session.id, "projectId": session.project_id, "userId": session.user_id, "kind": session.kind,
            "status": session.status, "amountTotal": session.amount_cents, "successUrl": session.success_url,
            "cancelUrl": session.cancel_url, "customer": session.customer_id,
            "subscription": session.subscription_id, "expiresAt": js_iso(session.expires_at)}


def render_subscription(sub: Subscription) -> dict[str, Any]:
    return {"id": sub.id, "projectId": sub.project_id, "userId": sub.user_id, "customer": sub.customer_id,
            "status": sub.status, "cancelAtPeriodEnd": sub.cancel_at_period_end,
            "currentPeriodStart": js_iso(sub.current_period_start),
            "currentPeriodEnd": js_iso(sub.current_period_end), "renewals": sub.renewals,
            "endedAt": js_iso(sub.ended_at) if sub.ended_at else None}


def render_state(state: PayKitState, now: datetime, page: Page) -> dict[str, Any]:
    """The product's tables for GET /_emulator/state, each cut to `page`."""
    return {
        "projects": [{**render_project(p), "owner": p.owner_id, "baseUrl": p.base_url}
                     for p in page.rows(state.projects.values())],
        "accounts": [{**render_account(a), "projectId": a.project_id} for a in page.rows(state.accounts.values())],
        "usage": [{**render_usage(e), "projectId": e.project_id} for e in page.rows(state.usage)],
        "checkoutSessions": [render_checkout_session(c) for c in page.rows(state.checkouts.values())],
        "subscriptions": [render_subscription(s) for s in page.rows(state.subscriptions.values())],
        "events": [render_stripe_event(e) for e in page.rows(state.events.values())],
        "stripe": {"configured": state.stripe.configured, "toleranceSeconds": state.stripe.tolerance_seconds},
        # Rows dropped from the front of capped tables (EmulatorConfig.limits), by table.
        "evicted": {table: state.evicted.get(table, 0) for table in ("usage", "events", "checkouts")},
    }
