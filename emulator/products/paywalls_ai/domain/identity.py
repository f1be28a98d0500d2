"""Who is calling: the paywall a secret key names, and the end user a call is about.

The user id comes from the body `user`, else the header `X-Paywall-User`, else the URL (path prefix or
query); the first one present wins even if a later one differs. Ids are URL-safe and under 128 chars.
"""

from __future__ import annotations

import re

from ..errors import InvalidKeyError, InvalidUserIdError, UserRequiredError
from ..models import Paywall
from ..state import PaywallsState

USER_ID = re.compile(r"^[A-Za-z0-9._~-]{1,127}$")
BEARER = "bearer "


def paywall_for_authorization(state: PaywallsState, authorization: str | None) -> Paywall:
    """The paywall of `Authorization: Bearer <key>`; 401 `invalid_api_key` otherwise."""
    if not authorization or not authorization[: len(BEARER)].lower() == BEARER:
        raise InvalidKeyError()
    paywall_id = state.keys.get(authorization[len(BEARER):].strip())
    if paywall_id is None:
        raise InvalidKeyError("Unknown paywall key")
    return state.paywalls[paywall_id]


def check_user_id(value: str) -> str:
    if not USER_ID.match(value):
        raise InvalidUserIdError(param="user")
    return value


def resolve_user(*candidates: str | None) -> str:
    """The first present candidate, in precedence order (body, header, URL), checked."""
    for candidate in candidates:
        if candidate is not None:
            return check_user_id(candidate)
    raise UserRequiredError(param="user")
