"""The `paywalls-ai` section of a world file: validated whole (a `WorldSectionError` names the place),
then loaded into a fresh `PaywallsState` (kept as a template each reset copies). Balances in the file
are decimal USDC strings. No aiohttp.

    paywalls-ai:
      paywalls:
        - {id, name, mode: default|shared, owner, keys: [sk-paywalls-…], markup_percent?, upstream?,
           upstream_headers?, topup_amount?, templates?: {insufficient_funds, authorization_required},
           models: [{id, display_name?, description?, pricing: {prompt, completion, request?}}],
           balances?: {user: "1.50"} (default mode), connected?: [user] (shared mode)}
      wallets?: {user: "5"}      # shared-mode wallets, spendable by every shared paywall
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ...config import Limits
from ...engine.ids import IdFactory
from ...engine.product import WorldError, WorldLoad, WorldPlan
from ...engine.templates import Template, template
from .domain.identity import USER_ID
from .models import SHARED_SCOPE, BlockReason, Connection, ModelPrice, Paywall
from .money import AmountError, parse_amount, parse_percent
from .state import PaywallsState

DEFAULT_TEMPLATES: dict[BlockReason, str] = {
    "insufficient_funds": "Your balance is too low to continue with {{name}}. Top up here: {{url}} "
                          "Then send your message again.",
    "authorization_required": "{{name}} needs your permission to charge your Paywalls wallet. "
                              "Authorize it here: {{url}} Then send your message again.",
}
PAYWALL_KEYS = frozenset({"id", "name", "mode", "owner", "keys", "markup_percent", "upstream", "upstream_headers",
                          "topup_amount", "templates", "models", "balances", "connected"})
KEY_PREFIX = "sk-paywalls-"


class WorldSectionError(WorldError):
    default_code = "invalid_world"


def load_world(section: Mapping[str, Any] | None, load: WorldLoad) -> PaywallsState:
    """The product's state for a world section (None: no section, no paywalls), validated whole first."""
    return parse_section(section or {}, now=load.now, id_seed=load.id_seed, ids=load.ids, limits=load.limits)


def plan_world(section: Mapping[str, Any] | None, load: WorldLoad) -> WorldPlan:
    """The section validated once (as `load_world` does), as a plan building a new state for each load."""
    return functools.partial(_build, template(load_world(section, load), given=_PER_LOAD))


_PER_LOAD = frozenset({"ids", "limits", "loaded_at"})


def _build(plan: Template[PaywallsState], load: WorldLoad) -> PaywallsState:
    state = plan.make(ids=load.ids, limits=load.limits, loaded_at=load.now)
    for connection in state.connections.values():  # the world file connects its users as it is loaded
        connection.created_at = load.now
    return state


def parse_section(section: Mapping[str, Any], *, now: datetime, id_seed: int,
                  ids: IdFactory | None = None, limits: Limits | None = None) -> PaywallsState:
    where = "paywalls-ai"
    _mapping(section, where)
    unknown = sorted(set(section) - {"paywalls", "wallets"})
    if unknown:
        raise WorldSectionError(f"{where}: unknown keys {unknown}")
    state = PaywallsState(loaded_at=now, id_seed=id_seed, ids=ids or IdFactory(id_seed), limits=limits or Limits())
    for index, raw in enumerate(_list(section.get("paywalls"), f"{where}.paywalls")):
        _paywall(state, raw, f"{where}.paywalls[{index}]", now)
    for user, amount in _mapping(section.get("wallets") or {}, f"{where}.wallets").items():
        state.balances[(SHARED_SCOPE, _user(user, f"{where}.wallets"))] = _money(amount, f"{where}.wallets.{user}")
    return state


def _paywall(state: PaywallsState, raw: Any, where: str, now: datetime) -> None:
    raw = _mapping(raw, where)
    unknown = sorted(set(raw) - PAYWALL_KEYS)
    if unknown:
        raise WorldSectionError(f"{where}: unknown keys {unknown}")
    paywall_id = _text(raw, "id", where)
    if paywall_id in state.paywalls:
        raise WorldSectionError(f"{where}.id: paywall {paywall_id!r} appears twice")
    mode = raw.get("mode", "default")
    if mode not in ("default", "shared"):
        raise WorldSectionError(f"{where}.mode: 'default' or 'shared', got {mode!r}")
    keys = tuple(str(k) for k in _list(raw.get("keys"), f"{where}.keys"))
    for key in keys:
        if not key.startswith(KEY_PREFIX) or key in state.keys:
            raise WorldSectionError(f"{where}.keys: {key!r} must start with {KEY_PREFIX} and be unique")
    templates = dict(DEFAULT_TEMPLATES)
    for name, text in _mapping(raw.get("templates") or {}, f"{where}.templates").items():
        if name not in DEFAULT_TEMPLATES or not isinstance(text, str) or not text.strip():
            raise WorldSectionError(f"{where}.templates.{name}: one of {sorted(DEFAULT_TEMPLATES)}, a non-empty text")
        templates[name] = text
    models = {}
    for index, model in enumerate(_list(raw.get("models"), f"{where}.models")):
        price = _model(model, f"{where}.models[{index}]")
        models[price.id] = price
    upstream = str(raw.get("upstream", "fake"))
    if upstream != "fake" and not upstream.startswith(("http://", "https://")):
        raise WorldSectionError(f"{where}.upstream: 'fake' or an http(s) base URL")
    try:
        markup = parse_percent(str(raw.get("markup_percent", "0")))
    except AmountError as exc:
        raise WorldSectionError(f"{where}.markup_percent: {exc}") from exc
    paywall = Paywall(
        id=paywall_id, name=_text(raw, "name", where), mode=mode, owner_user_id=_text(raw, "owner", where),
        keys=keys, markup=(markup.numerator, markup.denominator), upstream=upstream,
        upstream_headers={str(k): str(v) for k, v in _mapping(raw.get("upstream_headers") or {}, where).items()},
        templates=templates, topup_amount=_money(raw.get("topup_amount", "10"), f"{where}.topup_amount"),
        models=models)
    state.paywalls[paywall.id] = paywall
    state.keys.update(dict.fromkeys(keys, paywall.id))
    balances = _mapping(raw.get("balances") or {}, f"{where}.balances")
    connected = _list(raw.get("connected") or [], f"{where}.connected")
    if (balances and mode != "default") or (connected and mode != "shared"):
        raise WorldSectionError(f"{where}: balances belong to default-mode paywalls, connected to shared ones")
    for user, amount in balances.items():
        state.balances[(paywall.id, _user(user, f"{where}.balances"))] = _money(amount, f"{where}.balances.{user}")
    for user in connected:
        user_id = _user(user, f"{where}.connected")
        state.connections[(paywall.id, user_id)] = Connection(
            id=state.new_id("conn"), paywall_id=paywall.id, user_id=user_id, wallet_user_id=user_id, created_at=now)


def _model(raw: Any, where: str) -> ModelPrice:
    raw = _mapping(raw, where)
    model_id = _text(raw, "id", where)
    pricing = _mapping(raw.get("pricing"), f"{where}.pricing")
    return ModelPrice(id=model_id, display_name=str(raw.get("display_name", model_id)),
                      description=str(raw.get("description", "")),
                      prompt=_money(pricing.get("prompt"), f"{where}.pricing.prompt"),
                      completion=_money(pricing.get("completion"), f"{where}.pricing.completion"),
                      request=_money(pricing.get("request", "0"), f"{where}.pricing.request"))


def _money(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise WorldSectionError(f"{where}: a decimal USDC string such as \"1.50\"")
    try:
        return parse_amount(str(raw))
    except AmountError as exc:
        raise WorldSectionError(f"{where}: {exc}") from exc


def _user(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not USER_ID.match(raw):
        raise WorldSectionError(f"{where}: {raw!r} is not a URL-safe user id under 128 characters")
    return raw


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise WorldSectionError(f"{where}.{key}: a non-empty string is required")
    return value


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise WorldSectionError(f"{where}: a mapping is required")
    return raw


def _list(raw: Any, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WorldSectionError(f"{where}: a list is required")
    return raw
