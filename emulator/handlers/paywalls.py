"""Handlers of the paywall structure: bootstrap (with `if_version` revalidation)."""

from __future__ import annotations

from typing import Any

from ..auth import resolve_bearer
from ..routing import Call, Reply, operation
from ..views import render_bootstrap_structure, render_paywall_user, structure_version


@operation("getBootstrap")
async def get_bootstrap(call: Call) -> Reply:
    paywall = call.require_paywall()
    structure = render_bootstrap_structure(call.store, paywall, call.origin)
    version = structure_version(paywall, structure)
    user = _snapshot(call)
    if call.query.get("if_version") == version:
        unchanged: dict[str, Any] = {"unchanged": True, "version": version}
        if user is not None:
            unchanged["user"] = user
        return Reply(body=unchanged)
    return Reply(body={**structure, "user": user, "version": version})


def _snapshot(call: Call) -> dict[str, Any] | None:
    """The user snapshot: the Bearer's user, else the `X-User-Email` identity, else none (guest)."""
    paywall, now = call.require_paywall(), call.world.now()
    if call.principal.user_id is not None:
        return render_paywall_user(call.store, paywall, call.store.users[call.principal.user_id], now)
    email = call.headers.get("X-User-Email")
    if email:
        return render_paywall_user(call.store, paywall, call.store.user_by_email(email), now)
    return None


__all__ = ["get_bootstrap", "resolve_bearer"]
