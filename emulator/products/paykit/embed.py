"""The embed script's text, read once from the package (`embed.js` beside this module)."""

from __future__ import annotations

import functools
import importlib.resources


@functools.cache
def script() -> str:
    return importlib.resources.files(__package__).joinpath("embed.js").read_text(encoding="utf-8")
