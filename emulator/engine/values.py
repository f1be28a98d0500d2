"""Request and world-file values checked before anything stores them: text must be valid Unicode (a lone
surrogate such as "\\ud800" is valid JSON, but no encoder can write it back, so a stored one breaks every
later read), nesting is bounded, and integral numbers are read as integers so a stored value never changes
type. Pure: used by routing (every body, parameter and header) and by world loading. No aiohttp.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .errors import BadRequestError

MAX_NESTING = 32  # objects and arrays inside one another; each spec's description states it
MAX_EXACT_INTEGER = 2**53  # integral floats up to this magnitude are exact, so read as ints
# No whitespace or control character anywhere in a URL: one that reaches a Location header or a link
# must not split the header (CR/LF) or smuggle a second line.
_URL_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def sanitised(value: Any, where: str, *, depth: int = 0) -> Any:
    """`value` with integral floats read as ints; refuses invalid text and nesting past `MAX_NESTING`
    (400 `invalid_json`) before anything looks at it, so no later encoding can fail on stored state."""
    if isinstance(value, str):
        if not value.isascii():  # ASCII holds no lone surrogate
            check_text(value, where, "invalid_json")
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= MAX_EXACT_INTEGER else value
    if isinstance(value, dict | list):
        if depth >= MAX_NESTING:
            raise BadRequestError(f"{where} nests objects or arrays deeper than {MAX_NESTING} levels",
                                  code="invalid_json")
        # Values that come back unchanged skip the call (and the path naming them, built only for a call).
        if isinstance(value, list):
            return [v if _kept(v) else sanitised(v, f"{where}[{i}]", depth=depth + 1) for i, v in enumerate(value)]
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and not key.isascii():  # JSON keys are text; a YAML world file may use numbers
                check_text(key, f"a key in {where}", "invalid_json")
            out[key] = item if _kept(item) else sanitised(item, f"{where}.{key}", depth=depth + 1)
        return out
    return value


def _kept(value: Any) -> bool:
    """What `sanitised` returns as it is, known without a call: None, ints, bools and ASCII text."""
    kind = type(value)
    return value is None or kind is int or kind is bool or (kind is str and value.isascii())


def check_text(text: str, where: str, code: str) -> None:
    """Refuse text that is not valid Unicode (400 `code`); `where` names it without repeating it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequestError(f"{where} is not valid text: it holds a lone surrogate at {exc.start}",
                              code=code) from None


def is_http_url(text: str) -> bool:
    """An absolute http(s) URL with a host, safe to put in a header or an HTML link as it is."""
    if _URL_UNSAFE.search(text):
        return False
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok
