"""Entity templates: a checked entity kept as the values it was built from, so a world plan makes a fresh
copy of it on every reset without checking the world file again (new lists, dicts and nested entities
each time: two copies share nothing mutable). No aiohttp.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Maker = Callable[[], Any]
_IMMUTABLE = (str, int, float, bool, bytes, datetime, date, timedelta, Decimal, Fraction, type(None))


@dataclass(frozen=True, slots=True)
class Template(Generic[T]):
    """How to build a copy of one entity (a dataclass): its shared immutable values, and a maker for
    each field holding something mutable."""

    kind: type[T]
    values: dict[str, Any]  # never handed out: `make` unpacks it
    parts: tuple[tuple[str, Maker], ...]

    def make(self) -> T:
        """A new entity equal to the one the template was taken from, sharing nothing mutable with it."""
        if not self.parts:
            return self.kind(**self.values)
        return self.kind(**self.values, **{name: make() for name, make in self.parts})


def template(entity: T) -> Template[T]:
    """The template of `entity`, a dataclass instance whose fields hold immutable values (strings,
    numbers, datetimes, tuples of them), lists, dicts, sets and other such entities. Fields left out
    of `__init__` are refused: an entity built by its constructor alone is what a template rebuilds."""
    kind = type(entity)
    values: dict[str, Any] = {}
    parts: list[tuple[str, Maker]] = []
    for f in dataclasses.fields(entity):  # type: ignore[arg-type]
        if not f.init:
            raise TypeError(f"{kind.__name__}.{f.name} is not an __init__ field: it cannot be templated")
        value = getattr(entity, f.name)
        make = maker(value)
        if make is None:
            values[f.name] = value
        else:
            parts.append((f.name, make))
    return Template(kind=kind, values=values, parts=tuple(parts))


def maker(value: Any) -> Maker | None:
    """A function returning a fresh copy of `value` (a JSON-like tree, entities allowed), or None when
    `value` is immutable and can be shared as it is."""
    if isinstance(value, _IMMUTABLE):
        return None
    if isinstance(value, tuple | frozenset):
        if any(maker(item) is not None for item in value):
            raise TypeError(f"a {type(value).__name__} holding mutable values cannot be templated")
        return None
    if isinstance(value, list | set):
        items = [(item, maker(item)) for item in value]
        kind: Callable[[Any], Any] = type(value)
        if all(make is None for _, make in items):
            frozen = tuple(value)
            return lambda: kind(frozen)
        return lambda: kind(make() if make is not None else item for item, make in items)
    if type(value) is dict:
        pairs = [(key, item, maker(item)) for key, item in value.items()]
        if all(make is None for _, _, make in pairs):
            kept = dict(value)
            return kept.copy
        return lambda: {key: make() if make is not None else item for key, item, make in pairs}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return template(value).make
    raise TypeError(f"a {type(value).__name__} cannot be templated")
