"""monetize.software's error hierarchy: the engine's generic refusals plus the product's own, and the
plain wire shape `{error, code, message, ...extras}` (`render_error`; `views.render_error`, the product's
error body, also renders what an error carries). Domain code imports errors from here only."""

from __future__ import annotations

from ...engine.errors import (
    BadRequestError,
    ConflictError,
    EmulatorError,
    ForbiddenError,
    InternalError,
    MethodNotAllowedError,
    NotFoundError,
    NotImplementedOperationError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthorizedError,
    UpstreamError,
)
from ...engine.errors import render_error as render_error

__all__ = [
    "BadRequestError",
    "ConflictError",
    "EmulatorError",
    "ForbiddenError",
    "IdentityNotFoundError",
    "IdentityNotOnPaywallError",
    "IdentityRequiredError",
    "InternalError",
    "InvalidApiKeyError",
    "InvalidTokenError",
    "MethodNotAllowedError",
    "NotFoundError",
    "NotImplementedOperationError",
    "NotOwnerError",
    "PayloadTooLargeError",
    "PaymentRequiredError",
    "PaywallNotFoundError",
    "RateLimitedError",
    "UnauthorizedError",
    "UpstreamError",
    "render_error",
]


class PaymentRequiredError(EmulatorError):
    status = 402
    default_code = "not-enough-queries"
    default_message = "Not enough queries"


class IdentityRequiredError(BadRequestError):
    default_code = "identity_required"
    default_message = "Pass email or user_id to name the user"


class IdentityNotFoundError(NotFoundError):
    default_code = "identity_not_found"
    default_message = "No user with that email/user_id exists"


class IdentityNotOnPaywallError(NotFoundError):
    default_code = "identity_not_on_paywall"
    default_message = "The user exists but never interacted with this paywall"


class PaywallNotFoundError(NotFoundError):
    default_code = "not_found"
    default_message = "Paywall not found"


class InvalidApiKeyError(UnauthorizedError):
    default_code = "invalid_api_key"
    default_message = "Invalid API key"


class InvalidTokenError(UnauthorizedError):
    default_code = "invalid_token"
    default_message = "The Bearer token is invalid or expired"


class NotOwnerError(ForbiddenError):
    default_code = "forbidden"
    default_message = "Access denied: API key owner does not match paywall owner"


