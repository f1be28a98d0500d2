"""The `paykit` section of the world file: Stripe settings, emulated sign-in, projects with their keys,
and accounts. The whole section is checked before anything changes (an error names the entry); the demo
project (`pk_live_demo` / `sk_live_demo`, id `default`) always exists. No aiohttp.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ...config import Limits
from ...engine.ids import IdFactory
from ...engine.values import is_http_url
from .errors import PayKitError
from .models import DEMO_OWNER, DEMO_PROJECT_ID, DEMO_PUBLISHABLE_KEY, DEMO_SECRET_KEY, PLANS, Account, Project
from .state import PayKitState, StripeSettings

DEMO_WEBHOOK_SECRET = "whsec_paykit_demo"
MAX_CREDITS = 2**53 - 1  # what a JavaScript number holds exactly
_SECTION_KEYS = {"baseUrl", "webhookUrl", "stripe", "auth", "demoWebhookSecret", "projects", "accounts"}
_PROJECT_KEYS = {"id", "name", "publishableKey", "secretKey", "secureMetering", "owner", "webhookSecret", "baseUrl"}
_ACCOUNT_KEYS = {"project", "userId", "plan", "credits", "stripeCustomerId"}


class WorldSectionError(PayKitError):
    """The section is malformed; the message names the place."""


def _fail(where: str, message: str) -> WorldSectionError:
    return WorldSectionError(f"paykit.{where}: {message}", status=400, code="invalid_request")


def load(state: PayKitState, section: Mapping[str, Any] | None) -> None:
    """Refill `state` from the section (None: just the demo project); refused whole when invalid."""
    fresh = build(section or {}, limits=state.limits)
    for f in dataclasses.fields(PayKitState):
        setattr(state, f.name, getattr(fresh, f.name))


def build(section: Mapping[str, Any], ids: IdFactory | None = None, limits: Limits | None = None) -> PayKitState:
    if not isinstance(section, Mapping):
        raise _fail("", "must be a mapping")
    _keys(section, _SECTION_KEYS, "")
    state = PayKitState(ids=ids or IdFactory(0), base_url=_opt_url(section, "baseUrl", ""),
                        webhook_url=_opt_url(section, "webhookUrl", ""), stripe=_stripe(section.get("stripe")),
                        auth_required=_auth(section.get("auth")), limits=limits or Limits())
    demo_secret = _opt_str(section, "demoWebhookSecret", "") or DEMO_WEBHOOK_SECRET
    state.add_project(Project(id=DEMO_PROJECT_ID, name="Demo project", publishable_key=DEMO_PUBLISHABLE_KEY,
                              secret_key=DEMO_SECRET_KEY, webhook_secret=demo_secret))
    for i, raw in enumerate(_list(section, "projects")):
        _project(state, raw, f"projects[{i}]")
    for i, raw in enumerate(_list(section, "accounts")):
        _account(state, raw, f"accounts[{i}]")
    return state


def _stripe(raw: Any) -> StripeSettings:
    if raw is None:
        return StripeSettings()
    if not isinstance(raw, Mapping):
        raise _fail("stripe", "must be a mapping")
    _keys(raw, {"configured", "toleranceSeconds"}, "stripe")
    configured = raw.get("configured", True)
    tolerance = raw.get("toleranceSeconds", 300)
    if not isinstance(configured, bool):
        raise _fail("stripe.configured", "must be a boolean")
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 1:
        raise _fail("stripe.toleranceSeconds", "must be a positive integer")
    return StripeSettings(configured=configured, tolerance_seconds=tolerance)


def _auth(raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, Mapping):
        raise _fail("auth", "must be a mapping")
    _keys(raw, {"required"}, "auth")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise _fail("auth.required", "must be a boolean")
    return required


def _project(state: PayKitState, raw: Any, where: str) -> None:
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be a mapping")
    _keys(raw, _PROJECT_KEYS, where)
    project_id = _str(raw, "id", where)
    if project_id in state.projects or ":" in project_id:
        raise _fail(f"{where}.id", f"{project_id!r} is taken or contains ':'")
    pk, sk = _str(raw, "publishableKey", where), _str(raw, "secretKey", where)
    if not pk.startswith("pk_") or not sk.startswith("sk_"):
        raise _fail(where, "publishableKey must start with pk_ and secretKey with sk_")
    for key in (pk, sk):
        if key in state.keys:
            raise _fail(where, f"key {key!r} is already used")
    secure = raw.get("secureMetering", False)
    if not isinstance(secure, bool):
        raise _fail(f"{where}.secureMetering", "must be a boolean")
    state.add_project(Project(
        id=project_id, name=_opt_str(raw, "name", where) or project_id, publishable_key=pk, secret_key=sk,
        secure_metering=secure, owner_id=_opt_str(raw, "owner", where) or DEMO_OWNER,
        webhook_secret=_opt_str(raw, "webhookSecret", where) or f"whsec_{project_id}",
        base_url=_opt_url(raw, "baseUrl", where)))


def _account(state: PayKitState, raw: Any, where: str) -> None:
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be a mapping")
    _keys(raw, _ACCOUNT_KEYS, where)
    project_id = _opt_str(raw, "project", where) or DEMO_PROJECT_ID
    if project_id not in state.projects:
        raise _fail(f"{where}.project", f"no project {project_id!r}")
    user_id = _str(raw, "userId", where)
    plan = raw.get("plan", "free")
    if plan not in PLANS:
        raise _fail(f"{where}.plan", "must be free or pro")
    credits = raw.get("credits", 5)
    if not isinstance(credits, int) or isinstance(credits, bool) or not 0 <= credits <= MAX_CREDITS:
        raise _fail(f"{where}.credits", "must be a non-negative integer")
    key = f"{project_id}:{user_id}"
    if key in state.accounts:
        raise _fail(f"{where}.userId", f"{user_id!r} is listed twice in {project_id!r}")
    state.accounts[key] = Account(project_id=project_id, user_id=user_id, plan=plan, credits=credits,
                                  entitlements=["pro"] if plan == "pro" else [],
                                  stripe_customer_id=_opt_str(raw, "stripeCustomerId", where))


def _keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(where or "<section>", f"unknown keys {unknown}; allowed: {sorted(allowed)}")


def _list(raw: Mapping[str, Any], name: str) -> list[Any]:
    value = raw.get(name) or []
    if not isinstance(value, list):
        raise _fail(name, "must be a list")
    return value


def _str(raw: Mapping[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise _fail(f"{where}.{name}" if where else name, "must be a non-empty string")
    return value


def _opt_str(raw: Mapping[str, Any], name: str, where: str) -> str | None:
    return _str(raw, name, where) if raw.get(name) is not None else None


def _opt_url(raw: Mapping[str, Any], name: str, where: str) -> str | None:
    """An absolute http(s) URL: base URLs end up in redirects and on pages, the webhook URL is posted to."""
    value = _opt_str(raw, name, where)
    if value is not None and not is_http_url(value):
        raise _fail(f"{where}.{name}" if where else name,
                    f"must be an absolute http(s) URL without spaces or control characters, got {value!r}")
    return value
