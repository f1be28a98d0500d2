"""Handlers of the paywall structure: bootstrap (with `if_version` revalidation)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller, resolve_bearer
from ..domain import locales
from ..domain.identity import find_reader
from ..views import render_bootstrap


@operation("getBootstrap")
async def get_bootstrap(call: Call) -> Reply:
    paywall = caller(call).require_paywall()
    reader = find_reader(call.state, paywall, session_user=caller(call).bearer_user,
                         email=call.headers.get("X-User-Email"))
    body = render_bootstrap(call.state, paywall, call.origin, reader, call.world.now(),
                            if_version=call.query.get("if_version"),
                            locale=locales.negotiate(paywall, call.headers.get("Accept-Language")))
    return Reply(body=body, reused_body=not reader.named,  # a guest's answers are memoised (views)
                 headers={"Vary": "Accept-Language"})


__all__ = ["get_bootstrap", "resolve_bearer"]
