"""What PayKit's handlers read off a validated `Call` beyond its body: the key (header, body `key`,
`?key=`, in PayKit's order), the caller it resolves to, and the raw body of the operations whose body
PayKit reads itself. HTTP layer; no rules of its own.
"""

from __future__ import annotations

from typing import Any

from ...engine.routing import Call
from .domain import keys
from .state import PayKitState

KEY_HEADER = "x-paykit-key"


def key_of(call: Call) -> str | None:
    query = call.request.query.get("key")
    return keys.raw_key(header=call.headers.get(KEY_HEADER), body=call.body, query=query)


def caller(call: Call) -> keys.Caller:
    return keys.resolve(state(call), key_of(call))


def query_caller(call: Call) -> keys.Caller:
    """The dashboard reads scope by `?key=` only, as PayKit does."""
    return keys.resolve(state(call), call.request.query.get("key"))


def state(call: Call) -> PayKitState:
    found: PayKitState = call.state
    return found


def body(call: Call) -> dict[str, Any]:
    return call.body if isinstance(call.body, dict) else {}


async def raw_body(call: Call) -> bytes:
    return await call.request.read()
