"""PayKit's HTTP adapters, one module per area: read the validated `Call`, call one domain function,
return a rendered view. Handlers never import each other and hold no business rules."""

from __future__ import annotations

from types import ModuleType

from . import billing, control, dashboard, embed, hosted, ledger, projects

MODULES: tuple[ModuleType, ...] = (billing, control, dashboard, embed, hosted, ledger, projects)
