"""`chat/completions` (both spellings) and `models`: the OpenAI-compatible surface of the proxy."""

from __future__ import annotations

from aiohttp import web

from ....engine.routing import Call, Reply, operation
from .. import transport
from ..calls import body_of, body_user, links_of, paywall_of, runtime_of, state_of
from ..views import render_models


@operation("createChatCompletion", "createUserChatCompletion")
async def create_chat_completion(call: Call) -> Reply | web.StreamResponse:
    return await transport.complete(call.request, runtime_of(call), state_of(call), paywall_of(call), body_of(call),
                                    user_id=body_user(call), now=call.world.now, links=links_of(call))


@operation("listModels")
async def list_models(call: Call) -> Reply:
    return Reply(body=render_models(paywall_of(call)))
