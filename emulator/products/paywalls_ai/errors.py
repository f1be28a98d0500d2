"""The Paywalls.ai product's refusals and their OpenAI-style wire shape.

Each refusal is an engine `EmulatorError` with a code the spec's `ErrorCode` enumerates;
`render_error` turns any engine error into `{"error": {message, type, param, code}}`. No aiohttp.
"""

from __future__ import annotations

from typing import Any

from ...engine.errors import BadRequestError, ConflictError, EmulatorError, NotFoundError, UnauthorizedError

__all__ = ["BadRequestError", "ConflictError", "EmulatorError", "NotFoundError", "UnauthorizedError"]

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "invalid_request_error", 409: "invalid_request_error", 502: "upstream_error"}


class InvalidKeyError(UnauthorizedError):
    default_code = "invalid_api_key"
    default_message = "Missing or unknown paywall key: send Authorization: Bearer sk-paywalls-…"


class UserRequiredError(BadRequestError):
    default_code = "user_required"
    default_message = "Name the end user: body 'user', header X-Paywall-User, or /v1/{user}/chat/completions"


class InvalidUserIdError(BadRequestError):
    default_code = "invalid_user_id"
    default_message = "user ids are URL-safe (A-Z a-z 0-9 . _ ~ -) and 1 to 127 characters"


class InvalidAmountError(BadRequestError):
    default_code = "invalid_amount"
    default_message = "amount must be a positive decimal string of USDC with at most 18 decimals"


class DefaultModeOnlyError(BadRequestError):
    default_code = "default_mode_only"
    default_message = "Deposits are for default-mode paywalls; shared wallets are funded by their users"


class IdempotencyKeyReusedError(ConflictError):
    default_code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with another request body"


class ModelNotFoundError(NotFoundError):
    default_code = "model_not_found"
    default_message = "The model does not exist on this paywall"


class InvalidSubscriptionError(BadRequestError):
    default_code = "invalid_events"


def render_error(err: EmulatorError) -> dict[str, Any]:
    """`{"error": {message, type, param, code}}` for any engine or product error."""
    param = err.extra.get("param")
    kind = _TYPES.get(err.http_status, "invalid_request_error" if err.http_status < 500 else "api_error")
    return {"error": {"message": err.message, "type": kind, "param": param if isinstance(param, str) else None,
                      "code": err.code}}
