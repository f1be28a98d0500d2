"""`struct`: the one way this package declares a data class: a slotted `dataclass` whose `__eq__`,
`__hash__` and `__repr__` are shared functions instead of methods compiled from source for each class,
which on Python 3.11 is most of what a dataclass costs to define (a server start defines ~140). The
methods behave as the dataclass ones would. No aiohttp, no product."""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")


@overload
def struct(cls: type[_T], /) -> type[_T]: ...


@overload
def struct(*, frozen: bool = False, kw_only: bool = False) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(field_specifiers=(field,))
def struct(cls: type[_T] | None = None, /, *, frozen: bool = False,
           kw_only: bool = False) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """`@dataclass(slots=True, frozen=…, kw_only=…)` with the same equality (field by field, same class
    only), hash (of the compared fields when frozen; none when mutable) and repr (`Name(a=1, b='x')`,
    recursion-safe); a method the class body defines itself is kept, as dataclass keeps it."""

    def wrap(c: type[_T]) -> type[_T]:
        return _share_methods(dataclass(c, slots=True, frozen=frozen, kw_only=kw_only, repr=False, eq=False),
                              frozen=frozen)

    return wrap if cls is None else wrap(cls)


def _share_methods(cls: type[_T], *, frozen: bool) -> type[_T]:
    own = cls.__dict__
    every = fields(cls)  # type: ignore[arg-type]  # a dataclass by now
    compared = _getter(tuple(f.name for f in every if f.compare))
    if "__eq__" not in own:
        def __eq__(self: Any, other: object) -> bool:
            if other.__class__ is self.__class__:
                return bool(compared(self) == compared(other))
            return NotImplemented

        cls.__eq__ = __eq__  # type: ignore[method-assign]
    if "__hash__" not in own or own["__hash__"] is None:
        if frozen:
            hashed = _getter(tuple(f.name for f in every if (f.compare if f.hash is None else f.hash)))

            def __hash__(self: Any) -> int:
                return hash(hashed(self))

            cls.__hash__ = __hash__  # type: ignore[method-assign]
        else:
            cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared by value: unhashable
    if "__repr__" not in own:
        shown = tuple(f.name for f in every if f.repr)

        @reprlib.recursive_repr()
        def __repr__(self: Any) -> str:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
            return f"{self.__class__.__qualname__}({inner})"

        cls.__repr__ = __repr__  # type: ignore[method-assign]
    return cls


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the tuple of those attributes, as the dataclass methods compare them."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)
