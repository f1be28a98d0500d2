"""Every JSON shape of the Paywalls.ai product: balances, models, connection status, paywall-required
completions (JSON and SSE), subscriptions, delivery logs and webhook delivery bodies. Field names
follow spec/paywalls-ai.openapi.yaml. Pure: entities in, plain dicts/bytes out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ...engine.product import Page
from .models import Connection, Delivery, Event, ModelPrice, Paywall, Subscription
from .money import format_price, format_units
from .state import PaywallsState

# Facts holding base units: rendered as decimal USDC strings on the wire.
MONEY_FACTS = frozenset({"amount", "cost", "requested_amount", "available_balance", "processing_fee_amount"})


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_balance(units: int) -> dict[str, Any]:
    return {"balance": str(units), "balanceFormatted": format_units(units)}


def render_deposit(units: int) -> dict[str, Any]:
    return {"balanceFormatted": format_units(units)}


def render_models(paywall: Paywall) -> dict[str, Any]:
    return {"object": "list", "data": [render_model(model, paywall) for model in paywall.models.values()]}


def render_model(model: ModelPrice, paywall: Paywall) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "name": model.id, "display_name": model.display_name,
            "description": model.description, "created": 0, "owned_by": paywall.id,
            "pricing": {"prompt": format_price(model.prompt), "completion": format_price(model.completion),
                        "request": format_price(model.request)}}


def render_connected(connection: Connection, paywall: Paywall) -> dict[str, Any]:
    return {"connected": True, "message": f"The user is connected to {paywall.name}.",
            "connectedUser": {"paywallKeyId": paywall.id, "userId": connection.wallet_user_id,
                              "externalUserId": connection.user_id, "createdAt": iso(connection.created_at)}}


def render_not_connected(paywall: Paywall, url: str) -> dict[str, Any]:
    return {"connected": False, "message": f"The user has not authorized {paywall.name} yet.", "url": url}


def render_topup_link(url: str) -> dict[str, Any]:
    return {"url": url}


def render_disconnected(done: bool, paywall: Paywall) -> dict[str, Any]:
    message = (f"The user's authorization of {paywall.name} was revoked." if done
               else f"The user had not authorized {paywall.name}; nothing to revoke.")
    return {"success": done, "message": message}


def render_outcome(success: bool, message: str) -> dict[str, Any]:
    return {"success": success, "message": message}


# --- paywall-required assistant messages ------------------------------------------------------------


def render_blocked_completion(*, request_id: str, model: str, message: str, created: int) -> dict[str, Any]:
    return {"id": f"chatcmpl-{request_id}", "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": message},
                         "finish_reason": "stop"}]}


def render_blocked_stream(*, request_id: str, model: str, message: str, created: int) -> list[bytes]:
    """The same message as SSE chunks: the role, the whole text, the stop, `[DONE]`."""
    base = {"id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": created, "model": model}
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": ""}, None), ({"content": message}, None), ({}, "stop")]
    events = [sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
              for delta, finish in deltas]
    return [*events, b"data: [DONE]\n\n"]


def sse(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


# --- webhooks ----------------------------------------------------------------------------------------


def render_subscription(subscription: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": subscription.id, "paywallId": subscription.paywall_id, "url": subscription.url,
        "events": list(subscription.events), "isActive": subscription.is_active,
        "description": subscription.description, "customHeaders": dict(subscription.custom_headers),
        "createdAt": iso(subscription.created_at), "updatedAt": iso(subscription.updated_at),
        "secretSuffix": subscription.secret[-6:], "createdBy": subscription.created_by,
        "consecutiveFailures": subscription.consecutive_failures,
        "lastDeliveredAt": iso(subscription.last_delivered_at)}
    if with_secret:
        body["secret"] = subscription.secret
    return body


def render_subscriptions(subscriptions: Iterable[Subscription]) -> dict[str, Any]:
    return {"subscriptions": [render_subscription(s) for s in subscriptions]}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def render_event(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {"paywallId": event.paywall_id, "ownerUserId": event.owner_user_id}
    for name, value in event.facts.items():
        data[_camel(name)] = format_price(value) if name in MONEY_FACTS and isinstance(value, int) else value
    return {"id": event.id, "paywallId": event.paywall_id, "ownerUserId": event.owner_user_id, "type": event.type,
            "version": "1.0", "status": "pending", "createdAt": iso(event.created_at),
            "trigger": {"source": event.source, "actorType": event.actor_type, "actorId": event.actor_id},
            "subject": {"type": event.subject_type, "id": event.subject_id, "externalId": event.external_id},
            "data": data, "metadata": dict(event.metadata)}


def render_delivery_body(delivery: Delivery, event: Event, *, attempt: int, at: datetime) -> bytes:
    """The exact bytes one attempt POSTs (and signs): `attempts` and `updatedAt` are this attempt's."""
    body = {"delivery": {"id": delivery.id, "subscriptionId": delivery.subscription_id, "attempts": attempt,
                         "createdAt": iso(delivery.created_at), "updatedAt": iso(at)},
            "event": render_event(event)}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def render_logs(deliveries: Iterable[Delivery], events: dict[str, Event]) -> dict[str, Any]:
    rows = []
    for delivery in deliveries:
        last = delivery.attempts[-1] if delivery.attempts else None
        rows.append({"id": delivery.id, "subscriptionId": delivery.subscription_id, "eventId": delivery.event_id,
                     "eventType": delivery.event_type, "status": delivery.status,
                     "attempts": len(delivery.attempts), "lastStatusCode": last.status_code if last else None,
                     "lastError": last.error if last else None, "nextAttemptAt": iso(delivery.next_attempt_at),
                     "createdAt": iso(delivery.created_at), "updatedAt": iso(delivery.updated_at),
                     "event": render_event(events[delivery.event_id])})
    return {"logs": rows}


def render_state(state: PaywallsState, page: Page) -> dict[str, Any]:
    """The product's tables for GET /_emulator/state, each cut to `page`."""
    return {
        "paywalls": [{"id": p.id, "name": p.name, "mode": p.mode, "models": sorted(p.models)}
                     for p in page.rows(state.paywalls.values())],
        "balances": [{"scope": scope, "user": user, "balance": str(units), "balanceFormatted": format_units(units)}
                     for (scope, user), units in page.rows(sorted(state.balances.items()))],
        "connections": [{"paywallId": c.paywall_id, "user": c.user_id, "createdAt": iso(c.created_at)}
                        for c in page.rows(state.connections.values())],
        "ledger": [{"id": e.id, "paywallId": e.paywall_id, "user": e.user_id, "kind": e.kind, "amount": str(e.amount),
                    "requested": str(e.requested), "source": e.source, "createdAt": iso(e.created_at)}
                   for e in page.rows(state.ledger)],
        "topups": [{"id": t.id, "paywallId": t.paywall_id, "user": t.user_id, "status": t.status,
                    "amount": str(t.amount)} for t in page.rows(state.topups.values())],
        "events": [render_event(e) for e in page.rows(state.events)],
        "subscriptions": [render_subscription(s) for s in page.rows(state.subscriptions.values())],
        "deliveries": render_logs(page.rows(state.deliveries.values()), state.events_by_id)["logs"],
        # Rows dropped from the front of capped tables (EmulatorConfig.limits), by table.
        "evicted": {table: state.evicted.get(table, 0) for table in ("ledger", "events", "deliveries")},
    }
