"""Recording a product event (the webhook outbox) and fanning it out to matching subscriptions, both
at the instant the domain change happens on the engine clock. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Event, Paywall
from ..state import PaywallsState
from . import webhooks


def emit(state: PaywallsState, paywall: Paywall, event_type: str, *, now: datetime, subject: tuple[str, str],
         user_id: str | None, source: str, actor: tuple[str, str] | None = None,
         facts: dict[str, str | int | None] | None = None, metadata: dict[str, Any] | None = None) -> Event:
    """Record `event_type` about `subject` (type, id) for `user_id`, triggered by `actor` (type, id;
    the paywall owner by default), and queue its deliveries."""
    actor_type, actor_id = actor or ("paywall-owner", paywall.owner_user_id)
    event = Event(id=state.new_id("evt"), paywall_id=paywall.id, owner_user_id=paywall.owner_user_id,
                  type=event_type, created_at=now, source=source, actor_type=actor_type, actor_id=actor_id,
                  subject_type=subject[0], subject_id=subject[1], external_id=user_id,
                  facts=dict(facts or {}), metadata=dict(metadata or {}))
    state.record_event(event)
    webhooks.fan_out(state, event)
    return event
