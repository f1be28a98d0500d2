"""Tenants: listing and creating projects for the signed-in owner (the shared `demo` owner unless the
world turns emulated sign-in on), fresh seeded keys, and toggling secure metering with a project's own
secret key. No aiohttp.
"""

from __future__ import annotations

import json
from typing import Any

from ....engine.ids import IdFactory
from ..errors import refuse
from ..models import DEMO_OWNER, Project
from ..state import PayKitState

MAX_NAME = 100
DEFAULT_NAME = "Untitled project"


def lenient_json(raw: bytes) -> Any:
    """The body as PayKit reads it here: JSON, or nothing at all when it is not JSON."""
    try:
        return json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        return None


def owner(state: PayKitState, authorization: str | None, *, refusal: str) -> str:
    """The owner a /projects call acts for: `demo` without sign-in, else the Bearer's owner id."""
    if not state.auth_required:
        return DEMO_OWNER
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise refuse(401, refusal)
    return value.strip()


def list_projects(state: PayKitState, owner_id: str) -> list[Project]:
    return [p for p in state.projects.values() if p.owner_id == owner_id]


def create(state: PayKitState, ids: IdFactory, owner_id: str, body: Any) -> Project:
    name = DEFAULT_NAME
    if isinstance(body, dict) and isinstance(body.get("name"), str) and body["name"].strip():
        name = body["name"].strip()
    if len(name) > MAX_NAME:
        raise refuse(400, "name must be ≤ 100 characters")
    project = Project(id=f"proj_{ids.token(8)}", name=name, publishable_key=f"pk_live_{ids.token(16)}",
                      secret_key=f"sk_live_{ids.token(24)}", owner_id=owner_id,
                      webhook_secret=f"whsec_{ids.alnum(32)}")
    state.add_project(project)
    return project


def set_secure_metering(state: PayKitState, key: str | None, body: Any) -> Project:
    """The key must be secret (401 before the body is looked at), the flag a boolean (400), the key a
    project's (401)."""
    if not key or not key.startswith("sk_"):
        raise refuse(401, "Secret key required")
    value = body.get("secureMetering") if isinstance(body, dict) else None
    if not isinstance(value, bool):
        raise refuse(400, "secureMetering (boolean) is required")
    project = state.project_by_key(key)
    if project is None:
        raise refuse(401, "Invalid secret key")
    project.secure_metering = value
    return project
