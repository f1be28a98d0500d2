"""Wire shapes of the fake Stripe: the checkout session, subscription and invoice objects and the event
envelope PayKit's webhook receives, rendered from an event's `StripeSnapshot` when the event is first
sent (`delivery` keeps the bytes: serialised once, signed per attempt). No aiohttp, no state access.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .domain.billing import PRO_CENTS
from .models import CheckoutSession, StripeEvent, StripeSnapshot, Subscription

API_VERSION = "2024-06-20"


def unix(value: datetime) -> int:
    return int(value.timestamp())


def render_checkout_session(session: CheckoutSession, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": session.id, "object": "checkout.session", "mode": session.mode, "status": session.status,
        "payment_status": "paid" if session.status == "complete" else "unpaid",
        "amount_subtotal": session.amount_cents, "amount_total": session.amount_cents, "currency": "usd",
        "customer": session.customer_id, "subscription": session.subscription_id,
        "payment_intent": session.payment_intent_id, "metadata": metadata,
        "success_url": session.success_url, "cancel_url": session.cancel_url,
        "created": unix(session.created), "expires_at": unix(session.expires_at), "livemode": False,
    }


def render_subscription(sub: Subscription, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": sub.id, "object": "subscription", "status": sub.status, "customer": sub.customer_id,
        "metadata": metadata, "cancel_at_period_end": sub.cancel_at_period_end,
        "current_period_start": unix(sub.current_period_start), "current_period_end": unix(sub.current_period_end),
        "canceled_at": unix(sub.canceled_at) if sub.canceled_at else None,
        "ended_at": unix(sub.ended_at) if sub.ended_at else None, "created": unix(sub.created),
        "items": {"object": "list", "data": [{
            "object": "subscription_item", "quantity": 1,
            "price": {"object": "price", "currency": "usd", "unit_amount": PRO_CENTS, "product_name": "PayKit Pro",
                      "recurring": {"interval": "month", "interval_count": 1}}}]},
        "livemode": False,
    }


def render_invoice(invoice_id: str, sub: Subscription, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": invoice_id, "object": "invoice", "status": "paid", "customer": sub.customer_id,
        "subscription": sub.id, "amount_due": PRO_CENTS, "amount_paid": PRO_CENTS, "currency": "usd",
        "billing_reason": "subscription_cycle", "period_start": unix(sub.current_period_start),
        "period_end": unix(sub.current_period_end), "subscription_details": {"metadata": metadata},
        "metadata": {}, "livemode": False,
    }


def render_stripe_object(snapshot: StripeSnapshot) -> dict[str, Any]:
    """The event's `data.object`, as of the instant the snapshot was taken."""
    metadata = dict(snapshot.metadata)
    if snapshot.object == "checkout.session" and snapshot.checkout is not None:
        return render_checkout_session(snapshot.checkout, metadata)
    if snapshot.object == "invoice" and snapshot.subscription is not None and snapshot.invoice_id is not None:
        return render_invoice(snapshot.invoice_id, snapshot.subscription, metadata)
    if snapshot.object == "subscription" and snapshot.subscription is not None:
        return render_subscription(snapshot.subscription, metadata)
    raise ValueError(f"a {snapshot.object} snapshot without its object")


def render_event_payload(event: StripeEvent) -> bytes:
    """The envelope's bytes (what is signed and posted)."""
    envelope = {"id": event.id, "object": "event", "api_version": API_VERSION, "created": unix(event.created),
                "type": event.type, "livemode": False, "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None}, "data": {"object": render_stripe_object(event.data)}}
    return json.dumps(envelope, indent=2).encode()
