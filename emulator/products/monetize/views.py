"""Wire shapes: the only place response bodies and webhook payloads are assembled.

Field names follow spec/monetize.openapi.yaml exactly; every function here is pure (entities and the
domain's results in, JSON-ready dicts out) and named `render_*`: the domain imports none of them. No aiohttp.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from ...engine.errors import EmulatorError
from ...engine.errors import render_error as render_engine_error
from ...engine.product import Page
from ...engine.timestamps import iso as iso  # re-exported: the wire timestamp format
from ...engine.views import render_page, render_transition
from .domain.access import has_access
from .domain.gateway import QuotaExceededError
from .domain.identity import Reader
from .domain.lifecycle import Outcome
from .models import (
    AccessToken,
    BalanceRow,
    CheckoutSession,
    DomainEvent,
    EventSnapshot,
    Offer,
    Payment,
    Paywall,
    PortalSession,
    Price,
    Refund,
    Subscription,
    Ticket,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from .models_auth import Account
from .state import Store


def render_price(price: Price) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": price.id,
        "currency": price.currency,
        "amount": price.amount,
        "interval": price.interval,
        "interval_count": price.interval_count,
        "trial_days": price.trial_days,
        "label": price.label,
        "description": price.description,
        "local": ({"currency": price.local_currency, "amount": price.local_amount}
                  if price.local_currency and price.local_amount is not None else None),
    }
    return body


def render_offer(offer: Offer, prices: list[Price]) -> dict[str, Any]:
    """An offer with `prices`: the paywall's active prices it applies to (all of them for a global
    offer), which the headless guide's example reads and the SDK's type ignores."""
    return {
        "id": offer.id,
        "discount_percent": offer.discount_percent,
        "expires_at": iso(offer.expires_at),
        "duration_minutes": offer.duration_minutes,
        "price_id": offer.price_id,
        "label": offer.label,
        "prices": [render_price(p) for p in prices if offer.price_id in (None, p.id)],
    }


def render_settings(paywall: Paywall, origin: str | None, locale: str | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "id": paywall.id,
        "name": paywall.name,
        "brand_color": None,
        "custom_css": None,
        "locale_default": "en",
        "runtime_mode": "hybrid",
        "checkout_mode": "guest",
        "auth_providers": ["google", "apple"],
        "allow_anonymous": False,
        "allow_close": True,
        "title_auto_fit": False,
        "trial": None,
        "visibility": {"visible": True, "reason": None, "country": "US", "tier": 1},
    }
    settings.update(paywall.settings)
    settings.update({
        "id": paywall.id,
        "name": paywall.name,
        "custom_domain": origin,
        "is_test_mode": paywall.test_mode,
        "success_redirect_url": paywall.success_redirect_url,
        "checkout_shop_url": paywall.checkout_shop_url,
        "checkout_product_name": paywall.checkout_product_name,
    })
    if locale is not None:
        settings["locale_default"] = locale
    return settings


def render_layout(paywall: Paywall, prices: list[Price]) -> dict[str, Any]:
    if paywall.layout is not None:
        return paywall.layout
    blocks: list[dict[str, Any]] = [
        {"type": "heading", "text": paywall.name, "level": 1},
        {"type": "price_grid", "priceIds": [p.id for p in prices], "view": "vertical"},
    ]
    if paywall.token_types:
        blocks.append({"type": "tokenization_gate", "queries": [
            {"id": t.type, "name": t.name, "desc": t.description, "count": t.monthly}
            for t in paywall.token_types]})
    blocks += [{"type": "cta_button", "action": "checkout"}, {"type": "guarantee_badge"},
               {"type": "current_session"}]
    return {"type": "modal", "blocks": blocks}


def render_bootstrap_structure(store: Store, paywall: Paywall, origin: str | None,
                               locale: str | None = None) -> dict[str, Any]:
    """Everything but `user`: the part the `version` hash covers."""
    prices = [p for p in store.prices_of(paywall.id) if p.active]
    return {
        "settings": render_settings(paywall, origin, locale),
        "prices": [render_price(p) for p in prices],
        "offers": [render_offer(o, prices) for o in store.offers_of(paywall.id)],
        "layout": render_layout(paywall, prices),
        "experiment": None,
        "locales": paywall.locales or {},
    }


def structure_version(paywall: Paywall, structure: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(structure, sort_keys=True, default=str).encode()).hexdigest()
    return f"{paywall.id}:{digest[:16]}"


def render_bootstrap(store: Store, paywall: Paywall, origin: str | None, reader: Reader, now: datetime, *,
                     if_version: str | None, locale: str | None = None) -> dict[str, Any]:
    """The bootstrap answer: the structure (with `settings.locale_default` = the caller's `locale`),
    its `version` and the reader's snapshot (null for a guest); the short `{unchanged, version, user?}`
    form when `if_version` is still current."""
    key = ("bootstrap", paywall.id, origin, locale)
    if key not in store.memo:  # the structure changes only with the seed, and so do a guest's two answers
        structure = render_bootstrap_structure(store, paywall, origin, locale)
        version = structure_version(paywall, structure)
        store.memo[key] = (structure, version, {**structure, "user": None, "version": version},
                           {"unchanged": True, "version": version})
    structure, version, guest, guest_unchanged = store.memo[key]
    if not reader.named:  # the same objects every time (their JSON is encoded once: Reply.reused_body)
        return guest_unchanged if if_version == version else guest  # type: ignore[no-any-return]
    user = render_paywall_user(store, paywall, reader.user, now)
    if if_version == version:
        return {"unchanged": True, "version": version, "user": user}
    return {**structure, "user": user, "version": version}


def render_paywall_user(store: Store, paywall: Paywall, user: User | None, now: datetime) -> dict[str, Any]:
    if user is None:
        return {"has_active_subscription": False, "purchases": [], "trial": None, "had_previous_trial": False}
    subs = sorted(store.subscriptions_of(user.id, paywall.id), key=lambda s: s.created)
    lifetime = [p for p in store.payments_of(user.id, paywall.id) if p.subscription_id is None]
    purchases = [{"id": s.id, "status": s.status, "current_period_end": iso(s.current_period_end),
                  "cancel_at_period_end": s.cancel_at_period_end} for s in subs]
    purchases += [{"id": p.id, "status": _payment_status(p), "current_period_end": None,
                   "cancel_at_period_end": False} for p in lifetime]
    trialing = next((s for s in subs if s.status == "trialing"), None)
    link = store.link(user.id, paywall.id)
    return {
        "has_active_subscription": has_access(store, paywall, user),
        "purchases": purchases,
        "trial": ({"started_at": iso(trialing.trial_start), "expires_at": iso(trialing.trial_end)}
                  if trialing else None),
        "had_previous_trial": bool(link and link.had_trial) or any(s.trial_start for s in subs),
    }


def _payment_status(payment: Payment) -> str:
    return {"succeeded": "paid", "refunded": "refunded", "failed": "unpaid"}[payment.status]


def render_purchase_detailed(store: Store, sub: Subscription | None = None,
                             payment: Payment | None = None) -> dict[str, Any]:
    if sub is not None:
        price = store.prices[sub.price_id]
        return {
            "id": sub.id, "status": sub.status, "cancel_at": iso(sub.cancel_at),
            "cancel_at_period_end": sub.cancel_at_period_end, "canceled_at": iso(sub.canceled_at),
            "created": iso(sub.created), "ended_at": iso(sub.ended_at),
            "current_period_end": iso(sub.current_period_end),
            "current_period_start": iso(sub.current_period_start),
            "unit_amount": price.unit_amount, "currency": price.currency, "interval": price.interval,
            **_discount(next((p for p in store.payments_of_subscription(sub.id)
                              if p.discount_percent), None)),
        }
    assert payment is not None
    price = store.prices[payment.price_id]
    return {
        "id": payment.id, "status": _payment_status(payment), "cancel_at": None, "cancel_at_period_end": False,
        "canceled_at": None, "created": iso(payment.created), "ended_at": None, "current_period_end": None,
        "current_period_start": None, "unit_amount": payment.amount, "currency": payment.currency,
        "interval": price.interval or "lifetime", **_discount(payment),
    }


def _discount(payment: Payment | None) -> dict[str, Any]:
    """`discount` (percent) on a purchase row whose first charge had an offer."""
    return {"discount": payment.discount_percent} if payment is not None and payment.discount_percent else {}


def render_balance(row: BalanceRow) -> dict[str, Any]:
    return {"type": row.type, "count": row.count}


def render_balances(rows: list[BalanceRow], *, tokenization: bool) -> dict[str, Any]:
    return {"balances": [render_balance(r) for r in rows], "tokenization": tokenization}


def render_adjusted_balance(user: User, row: BalanceRow, rows: list[BalanceRow]) -> dict[str, Any]:
    """The owner's credit/debit: the changed row, then every balance of the user."""
    return {"success": True, "user_id": user.id, "type": row.type, "count": row.count,
            "balances": [render_balance(r) for r in rows]}


def render_withdrawal(row: BalanceRow) -> dict[str, Any]:
    return {"success": True, "remaining": row.count}


def render_quota_details(rows: list[BalanceRow], query_type: str) -> dict[str, Any]:
    """`details` of the gateway's 402: the user's `paywall_balances` row (the SDK reads element 0),
    the provider's query type, and that type's balance."""
    current = next((r for r in rows if r.type == query_type), None)
    return {"balances": [{"balances": [render_balance(r) for r in rows]}], "queryType": query_type,
            "currentBalance": render_balance(current) if current is not None else None}


def render_user_details(store: Store, paywall: Paywall, user: User, balances: list[BalanceRow],
                        *, with_profile: bool) -> dict[str, Any]:
    subs = sorted(store.subscriptions_of(user.id, paywall.id), key=lambda s: s.created)
    lifetime = [p for p in store.payments_of(user.id, paywall.id) if p.subscription_id is None]
    link = store.link(user.id, paywall.id)
    trialing = next((s for s in subs if s.status == "trialing"), None)
    body: dict[str, Any] = {
        "tier": 1,
        "country": user.country,
        "countryMatch": True,
        "balances": [render_balance(b) for b in balances],
        "purchases": [render_purchase_detailed(store, sub=s) for s in subs]
        + [render_purchase_detailed(store, payment=p) for p in lifetime],
        "paid": has_access(store, paywall, user),
        "trial": ({"started_at": iso(trialing.trial_start), "expires_at": iso(trialing.trial_end)}
                  if trialing else None),
        "meta": dict(link.meta) if link else {},
    }
    if with_profile:
        body["user"] = {"id": user.id, "email": user.email, "name": user.name, "created_at": iso(user.created_at)}
    return body


def render_checkout(session: CheckoutSession) -> dict[str, Any]:
    return {"checkoutUrl": session.url, "userId": session.user_id, "acquiring": session.acquirer}


def render_portal(session: PortalSession) -> dict[str, Any]:
    return {"url": session.url}


# --- billing objects (control API) ---------------------------------------------------------


def render_checkout_session(session: CheckoutSession) -> dict[str, Any]:
    return {
        "id": session.id, "paywall_id": session.paywall_id, "user_id": session.user_id,
        "price_id": session.price_id, "acquirer": session.acquirer, "status": session.status, "url": session.url,
        "success_url": session.success_url, "error_url": session.error_url, "trial_days": session.trial_days,
        "ignore_active_purchase": session.ignore_active_purchase, "created_at": iso(session.created_at),
        "completed_at": iso(session.completed_at), "payment_id": session.payment_id,
        "subscription_id": session.subscription_id, "outcome_reason": session.outcome_reason,
        "offer_id": session.offer_id,
    }


def render_portal_session(portal: PortalSession) -> dict[str, Any]:
    return {"id": portal.id, "paywall_id": portal.paywall_id, "user_id": portal.user_id, "url": portal.url,
            "return_url": portal.return_url, "created_at": iso(portal.created_at),
            "opened_at": iso(portal.opened_at), "used": portal.opened_at is not None}


def render_subscription_row(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id, "paywall_id": sub.paywall_id, "user_id": sub.user_id, "price_id": sub.price_id,
        "status": sub.status, "created": iso(sub.created), "current_period_start": iso(sub.current_period_start),
        "current_period_end": iso(sub.current_period_end), "cancel_at_period_end": sub.cancel_at_period_end,
        "cancel_at": iso(sub.cancel_at), "canceled_at": iso(sub.canceled_at), "ended_at": iso(sub.ended_at),
        "trial_start": iso(sub.trial_start), "trial_end": iso(sub.trial_end),
        "fail_next_renewal": sub.fail_next_renewal, "fail_renewals": sub.fail_renewals,
    }


def render_payment_row(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id, "paywall_id": payment.paywall_id, "user_id": payment.user_id,
        "price_id": payment.price_id, "amount": payment.amount, "currency": payment.currency,
        "status": payment.status, "created": iso(payment.created), "subscription_id": payment.subscription_id,
        "checkout_id": payment.checkout_id, "refunded_amount": payment.refunded_amount,
        "discount_percent": payment.discount_percent,
    }


def render_refund_row(refund: Refund) -> dict[str, Any]:
    return {"id": refund.id, "payment_id": refund.payment_id, "amount": refund.amount, "currency": refund.currency,
            "status": refund.status, "reason": refund.reason, "created": iso(refund.created)}


def render_event_ref(event: DomainEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created_at": iso(event.created_at)}


def render_billing_outcome(outcome: Outcome) -> dict[str, Any]:
    """What a billing control operation did: the objects it touched, where the buyer would be sent
    (null: nowhere, e.g. Freemius), the events it emitted in order and the transitions it ran."""
    return {
        "checkout": render_checkout_session(outcome.checkout) if outcome.checkout else None,
        "subscription": render_subscription_row(outcome.subscription) if outcome.subscription else None,
        "payment": render_payment_row(outcome.payment) if outcome.payment else None,
        "refund": render_refund_row(outcome.refund) if outcome.refund else None,
        "redirect_url": outcome.redirect_url,
        "events": [render_event_ref(e) for e in outcome.events],
        "transitions": [render_transition(t) for t in outcome.transitions],
    }


def render_cancelled(sub: Subscription) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Subscription cancelled successfully",
        "subscription": {"id": sub.id, "status": sub.status, "cancel_at_period_end": sub.cancel_at_period_end,
                         "cancel_at": iso(sub.cancel_at), "canceled_at": iso(sub.canceled_at)},
    }


def render_ticket(ticket: Ticket) -> dict[str, Any]:
    return {"ticket": {"id": ticket.id, "status": ticket.status}}


# --- webhook payloads ------------------------------------------------------------------------


def render_webhook_data(snapshot: EventSnapshot) -> dict[str, Any]:
    """The `data` block of a webhook event: the objects as they were at the time of the event."""
    price, user = snapshot.price, snapshot.user
    data: dict[str, Any] = {
        "price": {"id": price.id, "unit_amount": price.unit_amount, "currency": price.currency,
                  "interval": price.interval or "lifetime"},
        "customer": {"id": f"cus_{user.id.replace('-', '')[:14]}", "email": user.email},
        "user": {"id": user.id, "email": user.email, "metadata": dict(snapshot.user_meta)},
        "paywall": {"id": snapshot.paywall_id},
        "acquiring": {"id": f"acq_{snapshot.acquirer}_{snapshot.paywall_id}", "provider": snapshot.acquirer},
    }
    if (payment := snapshot.payment) is not None:
        data["payment"] = {"id": payment.id, "status": payment.status, "amount": payment.amount,
                           "currency": payment.currency}
    if (s := snapshot.subscription) is not None:
        data["subscription"] = {
            "id": s.id, "status": s.status, "current_period_start": iso(s.current_period_start),
            "current_period_end": iso(s.current_period_end), "cancel_at_period_end": s.cancel_at_period_end,
            "cancel_at": iso(s.cancel_at), "canceled_at": iso(s.canceled_at), "trial_end": iso(s.trial_end),
        }
    if (refund := snapshot.refund) is not None:
        data["refund"] = {"id": refund.id, "payment_id": refund.payment_id, "amount": refund.amount,
                          "currency": refund.currency, "status": refund.status, "reason": refund.reason}
    return data


def render_webhook_envelope(event: DomainEvent) -> dict[str, Any]:
    """The body of a webhook delivery: `{id, type, created_at, data}`."""
    return {"id": event.id, "type": event.type, "created_at": iso(event.created_at),
            "data": render_webhook_data(event.data)}


def render_webhook_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    policy = endpoint.policy
    return {"id": endpoint.id, "owner_id": endpoint.owner_id, "url": endpoint.url, "secret": endpoint.secret,
            "events": list(endpoint.events) if endpoint.events is not None else None,
            "enabled": endpoint.enabled,
            "policy": {"duplicate": bool(policy.get("duplicate")), "out_of_order": bool(policy.get("out_of_order")),
                       "delay_seconds": policy.get("delay_seconds") or 0}}


def render_webhook_endpoints(endpoints: Iterable[WebhookEndpoint]) -> dict[str, Any]:
    return {"endpoints": [render_webhook_endpoint(e) for e in endpoints]}


def render_delivery(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id, "event_id": delivery.event_id, "type": delivery.type,
        "endpoint_id": delivery.endpoint_id, "url": delivery.url, "status": delivery.status,
        "created_at": iso(delivery.created_at), "duplicate_of": delivery.duplicate_of,
        "attempts": [{"at": iso(a.at), "status_code": a.status_code, "error": a.error,
                      "duration_ms": round(a.duration_ms, 3)} for a in delivery.attempts],
        "next_attempt_at": iso(delivery.next_attempt_at),
    }


def render_deliveries(deliveries: Iterable[WebhookDelivery], page: Page) -> dict[str, Any]:
    return {"deliveries": [render_delivery(d) for d in deliveries], "page": render_page(page)}


def render_event_log(events: Iterable[DomainEvent], page: Page) -> dict[str, Any]:
    return {"events": [render_webhook_envelope(e) for e in events], "page": render_page(page)}


# --- control API answers ---------------------------------------------------------------------


def render_minted_token(token: AccessToken, user: User, now: datetime) -> dict[str, Any]:
    return {"access_token": token.token, "token_type": "bearer",
            "expires_in": int((token.expires_at - now).total_seconds()),
            "user": {"id": user.id, "email": user.email}}


def render_state(store: Store, page: Page, balances: Iterable[BalanceRow],
                 deliveries: Iterable[WebhookDelivery]) -> dict[str, Any]:
    """Every table, JSON-ready, each cut to `page` (the control API's state dump); `balances` and
    `deliveries` come already cut (topped-up rows; deliveries as the delivery log shows them)."""

    def rows(values: Iterable[Any], *, cut: bool = True) -> list[dict[str, Any]]:
        cut_values = page.rows(values) if cut else values
        return [json.loads(json.dumps(v, default=_state_json)) for v in cut_values]

    return {
        "seed": store.seed,
        "owners": rows(store.owners.values()),
        "paywalls": rows(store.paywalls.values()),
        "prices": rows(store.prices.values()),
        "users": rows(store.users.values()),
        "links": rows(store.links.values()),
        "balances": rows(balances, cut=False),
        "checkouts": rows(store.checkouts.values()),
        "subscriptions": rows(store.subscriptions.values()),
        "payments": rows(store.payments.values()),
        "refunds": rows(store.refunds.values()),
        "tickets": rows(store.tickets),
        "events": [_event_row(e) for e in page.rows(store.events)],
        "analytics": rows(store.analytics),
        "webhook_endpoints": rows(store.webhook_endpoints.values()),
        "webhook_deliveries": [render_delivery(d) for d in deliveries],
        # Sign-in: accounts (what a user signed in with, their stored `user_meta`; no password hash) and
        # the emulated mailbox, oldest first like every table.
        "accounts": [_account_row(a) for a in page.rows(store.auth.accounts.values())],
        "mailbox": rows(store.auth.mailbox),
        # Rows dropped from the front of capped tables (EmulatorConfig.limits), by table.
        "evicted": {table: store.evicted.get(table, 0)
                    for table in ("events", "deliveries", "analytics", "checkouts", "mailbox")},
    }


def _account_row(account: Account) -> dict[str, Any]:
    return {"user_id": account.user_id, "anonymous": account.anonymous, "confirmed": account.confirmed,
            "has_password": account.password_hash is not None, "pending_email": account.pending_email,
            "identities": dict(account.identities), "avatar": account.avatar,
            "user_meta": json.loads(json.dumps(account.user_meta, default=str)),
            "created_at": iso(account.created_at),
            "last_sign_in_at": iso(account.last_sign_in_at) if account.last_sign_in_at else None}


def _event_row(event: DomainEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "owner_id": event.owner_id, "paywall_id": event.paywall_id,
            "created_at": iso(event.created_at), "data": render_webhook_data(event.data), "subject": event.subject}


def render_error(err: EmulatorError) -> dict[str, Any]:
    """The product's error body `{error, code, message, ...extras}`; an error carrying domain values
    (the gateway's 402 and its balances) gets them rendered here."""
    body = render_engine_error(err)
    if isinstance(err, QuotaExceededError):
        body["details"] = render_quota_details(err.rows, err.query_type)
    return body


def _state_json(value: Any) -> Any:
    """`json.dumps`' fallback for state rows: a dataclass as its fields (nested ones in turn), which is what
    `dataclasses.asdict` gives without its deep copy of every value (the dump is read after every step of
    a test)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return _json_default(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return str(value)
