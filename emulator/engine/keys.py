"""Typed `web.AppKey`s of the engine: the only way app-wide objects are reached from a request."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .openapi import ApiSpec, Operation
from .world import World

WORLD_KEY = web.AppKey("world", World)
SPECS_KEY = web.AppKey("specs", tuple[ApiSpec, ...])  # every compiled document served, control ones included
OPERATIONS_KEY = web.AppKey("operations", Mapping[str, Operation])  # every operation served, by operationId
