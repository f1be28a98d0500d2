"""`engine.structs.struct` behaves as `@dataclass(slots=True, …)` would: the same equality, hash, repr,
init and field list, for every option the package uses, and every data class in the package is one."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import field
from typing import Any

import pytest

import paywall_emulator
from paywall_emulator.engine.structs import is_frozen, struct

OPTIONS = [{}, {"frozen": True}, {"kw_only": True}, {"frozen": True, "kw_only": True}]


def twins(**options: Any) -> tuple[type, type]:
    """One class body declared twice: with dataclass, as the reference, and with struct."""

    def body() -> type:
        class Item:
            name: str
            count: int = 0
            tags: tuple[str, ...] = field(default_factory=tuple)
            note: str = field(default="", compare=False)
            secret: str = field(default="s", repr=False)
            seen: int = field(default=0, hash=False)
            made: list[str] = field(default_factory=list, init=False, hash=False)
            level: int = field(default=1, init=False)
            unset: int = field(init=False, repr=False, compare=False)

            def __post_init__(self) -> None:
                self.made.append(self.name)

        return Item

    return dataclasses.dataclass(body(), slots=True, **options), struct(**options)(body())


def make(cls: type, **values: Any) -> Any:
    return cls(**{"name": "a", **values})


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_equality_hash_and_repr_match_dataclass(options: dict[str, bool]) -> None:
    reference, ours = twins(**options)
    cases = [{}, {"count": 2}, {"tags": ("x",)}, {"note": "other"}, {"secret": "t"}, {"seen": 9}, {"name": "b"}]
    for left in cases:
        for right in cases:
            assert (make(ours, **left) == make(ours, **right)) == (make(reference, **left) == make(reference, **right))
            assert (make(ours, **left) != make(ours, **right)) == (make(reference, **left) != make(reference, **right))
        assert repr(make(ours, **left)) == repr(make(reference, **left))
    assert make(ours) != make(reference)  # another class, even with the same fields
    assert (make(ours) == ("a", 0)) is False
    assert is_frozen(ours) is bool(options.get("frozen"))
    if options.get("frozen"):
        for values in cases:
            assert hash(make(ours, **values)) == hash(make(reference, **values))
        assert hash(make(ours, note="x", seen=1)) == hash(make(ours))  # fields left out of the hash
        assert hash(make(ours, count=1)) != hash(make(ours, count=2))
        for target in (ours, reference):
            item = make(target, tags=("t",))
            object.__setattr__(item, "unset", 5)  # a field left unset cannot be copied, by dataclass either
            with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'count'"):
                item.count = 3
            with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'name'"):
                del item.name
            with pytest.raises((dataclasses.FrozenInstanceError, TypeError)):  # 3.11's slotted dataclass: TypeError
                item.other = 1
            with pytest.raises(dataclasses.FrozenInstanceError):
                make(ours).other = 1  # not a field either: refused all the same
            for copied in (copy.copy(item), copy.deepcopy(item)):
                assert copied == item and copied is not item and copied.made == ["a"]
    else:
        with pytest.raises(TypeError, match="unhashable"):
            hash(make(ours))
        item = make(ours)
        item.count = 3  # type: ignore[attr-defined]
        assert item == make(ours, count=3)
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(reference)]
    assert str(inspect.signature(ours)) == str(inspect.signature(reference))
    assert ours.__slots__ == reference.__slots__
    assert ours.__match_args__ == reference.__match_args__
    assert dataclasses.replace(make(ours), count=5) == make(ours, count=5)
    for values in cases:
        item, twin = make(ours, **values), make(reference, **values)
        assert [getattr(item, f.name, "unset") for f in dataclasses.fields(ours)] == \
            [getattr(twin, f.name, "unset") for f in dataclasses.fields(reference)]
    assert make(ours).made is not make(ours).made  # a factory runs for each instance
    with pytest.raises(TypeError) as ours_refused:
        ours(name="a", level=2) if options.get("kw_only") else ours("a", 0, (), "", "s", 0, 2)
    with pytest.raises(TypeError) as dataclass_refused:
        reference(name="a", level=2) if options.get("kw_only") else reference("a", 0, (), "", "s", 0, 2)
    assert str(ours_refused.value).replace("Item.__init__", "__init__").split("(")[0] == \
        str(dataclass_refused.value).replace("Item.__init__", "__init__").split("(")[0]


def test_init_is_compiled_on_the_first_instance_and_stays() -> None:
    @struct(kw_only=True)
    class Row:
        a: int
        b: str = "x"

    placeholder = Row.__init__
    assert list(inspect.signature(Row).parameters) == ["args", "kwargs"]  # documented: until the first instance
    assert Row(a=1) == Row(a=1, b="x")
    assert Row.__init__ is not placeholder
    assert str(inspect.signature(Row)) == "(*, a: 'int', b: 'str' = 'x') -> None"
    compiled = Row.__init__
    Row(a=2)
    assert Row.__init__ is compiled
    assert Row.__doc__ == "Row(a, b)"  # a class without a docstring gets its fields, as dataclass gives it


def test_a_required_field_after_a_default_is_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @struct
        class Wrong:
            a: int = 0
            b: int


def test_a_struct_subclass_takes_its_base_fields_first() -> None:
    @struct(kw_only=True)
    class Base:
        a: int
        tags: list[str] = field(default_factory=list)

    @struct(kw_only=True)
    class Child(Base):
        b: str = "y"

    child = Child(a=1)
    assert (child.a, child.tags, child.b, repr(child)) == (
        1, [], "y", "test_a_struct_subclass_takes_its_base_fields_first.<locals>.Child(a=1, tags=[], b='y')")
    assert Base(a=1) == Base(a=1) and Child(a=1) != Base(a=1)


def test_repr_of_a_struct_holding_itself_does_not_recurse() -> None:
    @struct
    class Node:
        child: Any = None

    node = Node()
    node.child = node
    assert repr(node) == "test_repr_of_a_struct_holding_itself_does_not_recurse.<locals>.Node(child=...)"


def test_methods_the_class_defines_are_kept() -> None:
    @struct(frozen=True)
    class Money:
        cents: int
        currency: str

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Money) and self.cents == other.cents

        def __hash__(self) -> int:
            return self.cents

        def __repr__(self) -> str:
            return f"{self.cents} {self.currency}"

    assert Money(1, "usd") == Money(1, "eur")
    assert hash(Money(7, "usd")) == 7
    assert repr(Money(1, "usd")) == "1 usd"


def test_every_data_class_of_the_package_is_a_struct() -> None:
    """The import-cost saving holds only if no module goes back to a plain dataclass (ruff bans the
    decorator in emulator/; this catches one made another way)."""
    plain, structs = [], 0
    for info in pkgutil.walk_packages(paywall_emulator.__path__, "paywall_emulator."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value):
                if value.__dataclass_params__.eq:  # struct leaves equality to its own shared method
                    plain.append(f"{info.name}.{value.__qualname__}")
                else:
                    structs += 1
    assert plain == []
    assert structs > 100


def test_frozen_and_mutable_structs_do_not_inherit_from_each_other() -> None:
    """dataclass refuses both when the class is declared; a struct, declared unfrozen to dataclass, must
    refuse them itself (else a mutable child of a frozen base fails only at its first instance)."""

    @struct(frozen=True, kw_only=True)
    class Frozen:
        a: int

    @struct(kw_only=True)
    class Mutable:
        a: int

    with pytest.raises(TypeError, match="cannot inherit non-frozen struct from a frozen one"):
        @struct(kw_only=True)
        class Thawed(Frozen):
            b: int = 0

    with pytest.raises(TypeError, match="cannot inherit frozen struct from a non-frozen one"):
        @struct(frozen=True, kw_only=True)
        class Iced(Mutable):
            b: int = 0

    @struct(frozen=True, kw_only=True)
    class Child(Frozen):
        b: int = 0

    assert (Child(a=1).b, hash(Child(a=1)) == hash(Child(a=1))) == (0, True)


def test_an_initvar_is_refused_when_declared() -> None:
    """The compiled `__init__` passes nothing to `__post_init__`: an InitVar would be silently dropped."""
    with pytest.raises(TypeError, match="a struct takes no InitVar"):
        @struct
        class Seeded:
            a: int
            seed: dataclasses.InitVar[int] = 0


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_fields_named_like_the_generated_code_s_own_names(options: dict[str, bool]) -> None:
    """A field may be called `self`, or like a helper the compiled `__init__` uses (dataclass names its
    helpers so that no ordinary field shadows them)."""

    def body() -> type:
        class Odd:
            self: int
            _set: int
            _FACTORY: int = 0
            _default_self: int = 1
            tags: list[str] = field(default_factory=list)

        return Odd

    reference, ours = dataclasses.dataclass(body(), slots=True, **options), struct(**options)(body())
    values = {"self": 1, "_set": 2}
    for cls in (ours, reference):
        made = cls(**values)
        assert (made.self, made._set, made._FACTORY, made._default_self, made.tags) == (1, 2, 0, 1, [])
    assert repr(ours(**values)).split("(", 1)[1] == repr(reference(**values)).split("(", 1)[1]


def test_a_frozen_struct_keeps_its_own_pickling() -> None:
    @struct(frozen=True)
    class Versioned:
        a: int

        def __getstate__(self) -> dict[str, int]:
            return {"v": 2, "a": self.a}

        def __setstate__(self, state: dict[str, int]) -> None:
            object.__setattr__(self, "a", state["a"] * 10)

    assert (copy.copy(Versioned(1)).a, copy.deepcopy(Versioned(2)).a) == (10, 20)
