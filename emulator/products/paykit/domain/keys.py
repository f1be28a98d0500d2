"""Which project a request acts on, and with which rights: the key lookup order (header, then a string
body `key`, then `?key=`), the open demo project when no key is given, 401 for an unknown key, and the
secret-key rules of metering and granting. No aiohttp.
"""

from __future__ import annotations

from typing import Any

from ....engine.structs import struct
from ..errors import INVALID_KEY, refuse
from ..models import DEMO_PROJECT_ID, Project
from ..state import PayKitState


@struct(frozen=True, kw_only=True)
class Caller:
    project: Project
    secret: bool  # a secret (`sk_…`) key was presented

    @property
    def is_demo(self) -> bool:
        return self.project.id == DEMO_PROJECT_ID


def raw_key(*, header: str | None, body: Any, query: str | None) -> str | None:
    """The key as PayKit picks it: a non-empty header wins, then a body `key` that is a string (even an
    empty one), then the query parameter."""
    if header:
        return header
    if isinstance(body, dict) and isinstance(body.get("key"), str):
        return str(body["key"])
    return query


def resolve(state: PayKitState, key: str | None) -> Caller:
    """No (or an empty) key: the demo project. A key of no project: 401."""
    if not key:
        return Caller(project=state.projects[DEMO_PROJECT_ID], secret=False)
    project = state.project_by_key(key)
    if project is None:
        raise refuse(401, INVALID_KEY)
    return Caller(project=project, secret=key.startswith("sk_"))


def require_metering_rights(caller: Caller) -> None:
    if caller.project.secure_metering and not caller.secret and not caller.is_demo:
        raise refuse(403, "This project requires the secret key to meter (server-side)")


def require_granting_rights(caller: Caller) -> None:
    if not caller.secret and not caller.is_demo:
        raise refuse(403, "Granting credits requires your secret key (server-side)")
