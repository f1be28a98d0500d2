"""Typed `web.AppKey`s: the only way app-wide objects are reached from a request."""

from __future__ import annotations

from aiohttp import web

from .openapi import ApiSpec
from .upstream import Upstreams
from .world import World

WORLD_KEY = web.AppKey("world", World)
PUBLIC_SPEC_KEY = web.AppKey("public_spec", ApiSpec)
CONTROL_SPEC_KEY = web.AppKey("control_spec", ApiSpec)
UPSTREAMS_KEY = web.AppKey("upstreams", Upstreams)  # the gateway's transport (HTTP client + fake provider)
