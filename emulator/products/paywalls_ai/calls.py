"""What every Paywalls.ai handler reads off a validated call: the paywall its key named, the end user
(body > header > URL, or query > header on the GET user calls), the links to the hosted pages, and
the per-app proxy runtime. HTTP layer; no rules beyond picking the inputs.
"""

from __future__ import annotations

from typing import Any

from ...engine.routing import Call
from .domain import identity
from .links import Links
from .models import Paywall
from .state import PaywallsState
from .transport import PROXY_KEY, ProxyRuntime

USER_HEADER = "X-Paywall-User"


def state_of(call: Call) -> PaywallsState:
    found: PaywallsState = call.state
    return found


def paywall_of(call: Call) -> Paywall:
    found: Paywall = call.auth
    return found


def body_of(call: Call) -> dict[str, Any]:
    return call.body if isinstance(call.body, dict) else {}


def body_user(call: Call) -> str:
    return identity.resolve_user(body_of(call).get("user"), call.headers.get(USER_HEADER), call.path.get("user"))


def query_user(call: Call) -> str:
    return identity.resolve_user(call.query.get("user"), call.headers.get(USER_HEADER))


def links_of(call: Call) -> Links:
    return Links(call.origin)


def runtime_of(call: Call) -> ProxyRuntime:
    return call.request.app[PROXY_KEY]
