"""`GET /embed.js`: the drop-in script, served from the package."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..embed import script


@operation("getEmbedScript")
async def get_embed_script(call: Call) -> Reply:
    return Reply(body=script(), content_type="application/javascript",
                 headers={"Cache-Control": "no-cache"})
