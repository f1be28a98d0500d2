"""PayKit's refusals and its wire error shape: a plain `{error: "<sentence>"}` body (the meter's 402 adds
its `ok/blocked/remaining` fields as extras). Every refusal is an engine `EmulatorError`, so the engine's
pipeline answers it; `render_error` is the product's one error renderer. Imports no aiohttp.
"""

from __future__ import annotations

from typing import Any

from ...engine.errors import EmulatorError

INVALID_KEY = "Invalid API key"
STRIPE_NOT_CONFIGURED = "Stripe not configured. Set STRIPE_SECRET_KEY."
WEBHOOK_NOT_CONFIGURED = "Stripe not configured"
INVALID_SIGNATURE = "Invalid signature"
HANDLER_ERROR = "Handler error"
INSUFFICIENT = "Insufficient credits"


class PayKitError(EmulatorError):
    """A PayKit refusal: `message` is the exact sentence PayKit answers."""

    status = 400
    default_code = "invalid_request"
    default_message = "Bad request"


def refuse(status: int, message: str, **extra: Any) -> PayKitError:
    return PayKitError(message, status=status, code=_CODES.get(status, "invalid_request"), **extra)


_CODES = {400: "invalid_request", 401: "unauthorized", 402: "insufficient_credits", 403: "forbidden",
          404: "not_found", 409: "conflict", 500: "internal_error", 501: "not_implemented"}


def render_error(err: EmulatorError) -> dict[str, Any]:
    """`{error: message}`: PayKit's shape for every error, the engine's own included (their extras, such
    as validation `details`, are not PayKit's and stay out). PayKit's own refusals keep theirs (the
    meter's 402 `ok/blocked/remaining`)."""
    body: dict[str, Any] = dict(err.extra) if isinstance(err, PayKitError) else {}
    body["error"] = err.message
    return body
