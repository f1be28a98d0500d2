"""HTTP handlers of the Paywalls.ai product, one module per area; each is bound by operationId."""

from __future__ import annotations

from . import pages, proxy, user, webhooks

MODULES = (proxy, user, webhooks, pages)
