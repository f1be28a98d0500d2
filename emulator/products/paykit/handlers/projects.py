"""`GET|POST|PATCH /projects`: tenants, their keys, and the secure-metering switch. POST and PATCH read
their body leniently, as PayKit does (a body that is not JSON counts as empty)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..domain import projects
from ..request import key_of, raw_body, state
from ..views import render_project, render_projects, render_secure_metering


@operation("listProjects")
async def list_projects(call: Call) -> Reply:
    owner = projects.owner(state(call), call.headers.get("Authorization"), refusal="Not signed in")
    return Reply(body=render_projects(projects.list_projects(state(call), owner),
                                      auth_configured=state(call).auth_required))


@operation("createProject")
async def create_project(call: Call) -> Reply:
    owner = projects.owner(state(call), call.headers.get("Authorization"), refusal="Sign in to create a project")
    project = projects.create(state(call), state(call).ids, owner, projects.lenient_json(await raw_body(call)))
    return Reply(body=render_project(project))


@operation("updateProject")
async def update_project(call: Call) -> Reply:
    call.body = projects.lenient_json(await raw_body(call))
    return Reply(body=render_secure_metering(projects.set_secure_metering(state(call), key_of(call), call.body)))
