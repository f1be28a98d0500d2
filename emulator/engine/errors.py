"""The engine's error hierarchy: the base every product's errors derive from.

Every refusal is an `EmulatorError` subclass carrying an HTTP status, a stable machine `code`, a human
message and documented extras. Each product renders it in its own shape (`Product.render_error`); the
engine's control API uses `render_error`. Imports no aiohttp.
"""

from __future__ import annotations

from typing import Any, ClassVar


class EmulatorError(Exception):
    """Base of every error the emulator answers with.

    `error` is what goes into the body's `error` field: the slug code, or the sentence the public
    docs print for that case (the SDK reads `code` first, then a slug-like `error`).
    """

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "invalid_request"
    default_message: ClassVar[str] = "The request is invalid"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        error: str | None = None,
        status: int | None = None,
        **extra: Any,
    ) -> None:
        self.code = code or self.default_code
        self.message = message or self.default_message
        self.error = error or self.code
        self.http_status = status or self.status
        self.extra = extra
        super().__init__(self.message)


class BadRequestError(EmulatorError):
    status = 400


class UnauthorizedError(EmulatorError):
    status = 401
    default_code = "unauthorized"
    default_message = "Unauthorized"


class ForbiddenError(EmulatorError):
    status = 403
    default_code = "forbidden"
    default_message = "Forbidden"


class NotFoundError(EmulatorError):
    status = 404
    default_code = "not_found"
    default_message = "Not found"


class MethodNotAllowedError(EmulatorError):
    status = 405
    default_code = "method_not_allowed"
    default_message = "Method not allowed"


class ConflictError(EmulatorError):
    status = 409
    default_code = "conflict"
    default_message = "Conflict"


class PayloadTooLargeError(EmulatorError):
    status = 413
    default_code = "payload_too_large"
    default_message = "Payload too large"


class RateLimitedError(EmulatorError):
    status = 429
    default_code = "rate_limit_exceeded"
    default_message = "Too many requests"


class InternalError(EmulatorError):
    status = 500
    default_code = "internal_error"
    default_message = "Internal error"


class NotImplementedOperationError(EmulatorError):
    status = 501
    default_code = "not_implemented"
    default_message = "This operation is declared in the spec but not implemented by the emulator yet"


class UpstreamError(EmulatorError):
    status = 502
    default_code = "upstream_error"
    default_message = "The upstream provider failed"


def render_error(err: EmulatorError) -> dict[str, Any]:
    """The wire body of an error: `{error, code, message, ...extras}`."""
    body: dict[str, Any] = {"error": err.error, "code": err.code, "message": err.message}
    body.update(err.extra)
    return body
