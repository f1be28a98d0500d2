"""Entity templates: a checked entity kept as the values it was built from, so a world plan makes a fresh
copy of it on every reset without checking the world file again (new lists, dicts and nested entities
each time: two copies share nothing mutable). No aiohttp.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from numbers import Number
from typing import Any, Generic, TypeVar

from .structs import struct

T = TypeVar("T")
Maker = Callable[[], Any]
_IMMUTABLE = frozenset({str, int, float, bool, bytes, datetime, date, timedelta, Decimal, type(None)})


@struct(frozen=True)
class Template(Generic[T]):
    """How to build a copy of one entity (a dataclass): its shared immutable values, and a maker for
    each field holding something mutable."""

    kind: type[T]
    values: dict[str, Any]  # never handed out: `make` unpacks it
    parts: tuple[tuple[str, Maker], ...]
    given: frozenset[str] = frozenset()  # fields `make` is given each time instead

    def make(self, **given: Any) -> T:
        """A new entity equal to the one the template was taken from, sharing nothing mutable with it
        (with the `given` fields the template was taken without)."""
        if given.keys() != self.given:
            raise TypeError(f"{self.kind.__name__} is made with {sorted(self.given)}, got {sorted(given)}")
        if not self.parts:
            return self.kind(**self.values, **given)
        return self.kind(**self.values, **{name: make() for name, make in self.parts}, **given)


def template(entity: T, *, given: frozenset[str] = frozenset()) -> Template[T]:
    """The template of `entity`, a dataclass instance whose fields hold immutable values (strings,
    numbers, datetimes, tuples of them), lists, dicts, sets and other such entities, except the fields
    named in `given` (`make` takes them each time). Fields left out of `__init__` are refused: an entity
    built by its constructor alone is what a template rebuilds."""
    kind = type(entity)
    values: dict[str, Any] = {}
    parts: list[tuple[str, Maker]] = []
    for f in dataclasses.fields(entity):  # type: ignore[arg-type]
        name = f.name
        if name in given:
            continue
        if not f.init:
            raise TypeError(f"{kind.__name__}.{name} is not an __init__ field: it cannot be templated")
        value = getattr(entity, name)
        make = None if type(value) in _IMMUTABLE else maker(value)
        if make is None:
            values[name] = value
        else:
            parts.append((name, make))
    return Template(kind=kind, values=values, parts=tuple(parts), given=given)


def maker(value: Any) -> Maker | None:
    """A function returning a fresh copy of `value` (a JSON-like tree, entities allowed), or None when
    `value` is immutable and can be shared as it is."""
    if type(value) in _IMMUTABLE or isinstance(value, str | bytes | date | timedelta | Number | Enum):
        return None
    if isinstance(value, tuple | frozenset):
        parts = [(item, maker(item)) for item in value]
        if all(make is None for _, make in parts):
            return None
        if type(value) is not tuple:  # a frozenset cannot hold mutable values; a named tuple is not JSON-like
            raise TypeError(f"a {type(value).__name__} holding mutable values cannot be templated")
        # YAML's `!!pairs` and `!!omap` give tuples that may hold mappings: a new tuple of fresh copies
        return lambda: tuple([make() if make is not None else item for item, make in parts])
    if isinstance(value, list | set):
        kind: Callable[[Any], Any] = type(value)
        if all(type(item) in _IMMUTABLE for item in value):  # the usual case, checked first: cheaper
            return functools.partial(kind, tuple(value))
        items = [(item, maker(item)) for item in value]
        if all(make is None for _, make in items):
            return functools.partial(kind, tuple(value))
        return lambda: kind([make() if make is not None else item for item, make in items])
    if type(value) is dict:
        if all(type(item) in _IMMUTABLE for item in value.values()):
            return dict(value).copy
        pairs = [(key, item, maker(item)) for key, item in value.items()]
        if all(make is None for _, _, make in pairs):
            return dict(value).copy
        return lambda: {key: make() if make is not None else item for key, item, make in pairs}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return template(value).make
    raise TypeError(f"a {type(value).__name__} cannot be templated")
