"""`Call`: a validated request as handlers and a product's `authenticate` hook see it (the operation,
the world, the coerced parameters, the parsed body, the uploaded files). `routing` builds it and
`product` types its hooks with it, so neither imports the other. Loads no aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .openapi import Operation
from .structs import struct
from .world import World

if TYPE_CHECKING:
    from aiohttp import web
    from multidict import CIMultiDictProxy


@struct
class UploadedFile:
    """One file of a multipart body (its bytes are not kept)."""

    field: str
    filename: str
    content_type: str
    size: int


@struct
class Call:
    """A validated request, as handlers see it."""

    op: Operation
    request: web.Request
    world: World
    path: dict[str, str]
    query: dict[str, Any]
    headers: CIMultiDictProxy[str]
    body: Any
    files: list[UploadedFile]
    auth: Any = None  # what the product's `authenticate` returned (None for control operations)

    @property
    def state(self) -> Any:
        """The state of the product this operation belongs to."""
        return self.world.states[self.op.product]

    @property
    def origin(self) -> str:
        """The origin clients reach the emulator at (config, else this request's scheme + Host)."""
        configured = self.world.config.public_origin
        return configured.rstrip("/") if configured else f"{self.request.scheme}://{self.request.host}"
