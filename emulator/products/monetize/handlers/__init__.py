"""HTTP adapters, one module per area: read the validated `Call`, call one domain function,
return a rendered view. Handlers never import each other and hold no business rules."""

from __future__ import annotations

from types import ModuleType

from . import (
    auth_pages,
    auth_routes,
    balances,
    checkout,
    control,
    control_auth,
    control_billing,
    control_webhooks,
    events,
    gateway,
    hosted,
    paywalls,
    return_pages,
    subscriptions,
    support,
    users,
)

MODULES: tuple[ModuleType, ...] = (
    auth_pages, auth_routes, balances, checkout, control, control_auth, control_billing, control_webhooks,
    events, gateway, hosted, paywalls, return_pages, subscriptions, support, users,
)
