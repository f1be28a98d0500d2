"""`struct`: the one way this package declares a data class: a slotted `dataclass` whose `__eq__`,
`__hash__` and `__repr__` are shared functions, and whose `__init__` is compiled when the class is first
instantiated. Python 3.11 compiles each generated method from source, which was most of what a start
cost beyond aiohttp (~130 classes, of which a start instantiates about a third). No aiohttp, no product."""

from __future__ import annotations

import builtins
import dataclasses
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
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
    """`@dataclass(slots=True, frozen=…, kw_only=…)` with the same `__init__`, equality (field by field,
    same class only), hash (of the compared fields when frozen; none when mutable) and repr
    (`Name(a=1, b='x')`, recursion-safe); a method the class body defines itself is kept, as dataclass
    keeps it. Until its first instance, `inspect.signature` of the class shows `(*args, **kwargs)`; a
    frozen struct is frozen by shared methods, so `__dataclass_params__.frozen` is False: ask `is_frozen`."""

    def wrap(c: type[_T]) -> type[_T]:
        undocumented = not c.__doc__
        if undocumented:  # else dataclass writes one from `inspect.signature`, which compiles its text
            c.__doc__ = c.__name__
        if frozen and ("__setattr__" in c.__dict__ or "__delattr__" in c.__dict__):
            raise TypeError(f"a frozen struct cannot define __setattr__ or __delattr__ ({c.__qualname__})")
        made = dataclass(c, slots=True, kw_only=kw_only, init=False, repr=False, eq=False)
        _check_bases(made, frozen=frozen)
        if undocumented:
            made.__doc__ = f"{c.__name__}({', '.join(f.name for f in fields(made) if f.init)})"  # type: ignore[arg-type]
        _check_order(made)
        if "__init__" not in c.__dict__:
            made.__init__ = _first_init(made, frozen=frozen)  # type: ignore[method-assign]
        if frozen:
            _freeze(made)
        return _share_methods(made, frozen=frozen)

    return wrap if cls is None else wrap(cls)


def _freeze(cls: type[Any]) -> None:
    """What `frozen=True` gives a slotted dataclass, as shared functions (dataclass compiles two methods
    per class): assigning or deleting a field raises FrozenInstanceError; copy and pickle restore the
    fields through `object.__setattr__`."""
    names = frozenset(f.name for f in fields(cls))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    cls.__setattr__ = __setattr__  # type: ignore[assignment]
    cls.__delattr__ = __delattr__  # type: ignore[assignment]
    if "__getstate__" not in cls.__dict__:  # as dataclass: a class's own pickling is kept
        cls.__getstate__ = _frozen_getstate  # type: ignore[assignment]
    if "__setstate__" not in cls.__dict__:
        cls.__setstate__ = _frozen_setstate
    cls._struct_frozen = True


def is_frozen(cls: type) -> bool:
    """Whether `cls` is a struct declared `frozen=True` (or a subclass of one)."""
    return bool(getattr(cls, "_struct_frozen", False))


def _frozen_getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in fields(self)]


def _frozen_setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(fields(self), state, strict=True):
        object.__setattr__(self, f.name, value)


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


def _first_init(cls: type, *, frozen: bool) -> Callable[..., None]:
    """An `__init__` that, on the class's first instance, puts the generated one in its place."""

    def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:
        made = _dataclass_init(cls, frozen=frozen)
        cls.__init__ = made  # type: ignore[misc]
        made(self, *args, **kwargs)

    return __init__


def _dataclass_init(cls: type, *, frozen: bool) -> Callable[..., None]:
    """The `__init__` dataclass gives `cls`: parameters in field order, keyword-only ones last, defaults
    and default factories (a field left out of `__init__` gets its default too); a frozen class sets each
    field through `object.__setattr__`; `__post_init__` is called when the class has one. The names the
    generated code uses besides the fields' own cannot be field names (a field may be called `self`)."""
    every = fields(cls)
    me = "__struct_self__" if any(f.name == "self" for f in every) else "self"
    env: dict[str, Any] = {"__builtins__": builtins, "__struct_set__": object.__setattr__,
                           "__struct_factory__": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    annotations: dict[str, Any] = {}
    for f in every:
        name = f.name
        default, factory = f"__struct_default_{name}__", f"__struct_factory_{name}__"
        if f.default is not MISSING:
            env[default] = f.default
        elif f.default_factory is not MISSING:
            env[factory] = f.default_factory
        if f.init:
            annotations[name] = f.type
            if f.default is not MISSING:
                param, value = f"{name}={default}", name
            elif f.default_factory is not MISSING:
                param, value = f"{name}=__struct_factory__", f"{factory}() if {name} is __struct_factory__ else {name}"
            else:
                param, value = name, name
            (keyword if f.kw_only else positional).append(param)
        elif f.default is not MISSING:
            value = default
        elif f.default_factory is not MISSING:
            value = f"{factory}()"
        else:
            continue
        body.append(f"__struct_set__({me}, {name!r}, {value})" if frozen else f"{me}.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append(f"{me}.__post_init__()")
    params = ", ".join([me, *positional, *(["*", *keyword] if keyword else [])])
    namespace: dict[str, Any] = {}
    exec(f"def __init__({params}):\n    " + "\n    ".join(body or ["pass"]), env, namespace)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**annotations, "return": None}
    return init


def _check_bases(cls: type, *, frozen: bool) -> None:
    """dataclass's refusals that `struct` would otherwise skip (it declares every class unfrozen to
    dataclass, and its `__init__` passes no InitVar on): a frozen class over a mutable data class or the
    other way round, and InitVar pseudo-fields."""
    bases = [b for b in cls.__mro__[1:] if "__dataclass_fields__" in b.__dict__]
    if bases:
        any_frozen = any(is_frozen(b) or b.__dict__["__dataclass_params__"].frozen for b in bases)
        if any_frozen and not frozen:
            raise TypeError(f"cannot inherit non-frozen struct from a frozen one ({cls.__qualname__})")
        if frozen and not any_frozen:
            raise TypeError(f"cannot inherit frozen struct from a non-frozen one ({cls.__qualname__})")
    initvar = getattr(dataclasses, "_FIELD_INITVAR", None)
    if any(getattr(f, "_field_type", None) is initvar for f in cls.__dict__["__dataclass_fields__"].values()):
        raise TypeError(f"a struct takes no InitVar ({cls.__qualname__}): give __post_init__ a field")


def _check_order(cls: type) -> None:
    """dataclass's refusal of a required positional field after one with a default, made when the class
    is declared (its `__init__` is only compiled later)."""
    defaulted = None
    for f in fields(cls):
        if not f.init or f.kw_only:
            continue
        if f.default is not MISSING or f.default_factory is not MISSING:
            defaulted = f.name
        elif defaulted is not None:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")


class _Factory:
    """The default of a field with a default factory, in a generated `__init__`'s signature."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the tuple of those attributes, as the dataclass methods compare them."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)
