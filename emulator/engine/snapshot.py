"""Saving a world to a file and reading it back (`serve --state`): every product's state, the loaded and
the initial world documents and the clock's offset, as JSON. States are dataclass trees; their field
annotations drive the decoding, so a product needs no code of its own. A file that does not decode whole
is refused with one message naming it; nothing is half-loaded. No aiohttp.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .ids import IdFactory, IdPosition

FORMAT = "paywall-emulator-state/1"
PAIRS = "__pairs__"  # a mapping whose keys are not all strings is saved as its (key, value) pairs


class SnapshotError(ValueError):
    """The state file cannot be written or read back."""


def encode(value: Any) -> Any:
    """A JSON-ready form of `value` (dataclasses, mappings with any keys, tuples, datetimes, bytes)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, IdFactory):
        position = value.position()
        return {"seed": value.seed, "counters": dict(position.counters), "rng": encode(value.rng_state())}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.metadata.get("transient")}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and PAIRS not in value:
            return {k: encode(v) for k, v in value.items()}
        return {PAIRS: [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, set | frozenset):  # in a stable order: a state file is the same in every run
        return sorted((encode(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    raise SnapshotError(f"cannot save a {type(value).__name__}")


def decode(raw: Any, annotation: Any) -> Any:
    """`raw` (from `encode`) back into a value of the annotated type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return raw
    if annotation is None or annotation is type(None):
        return None
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        return decode(raw, options[0]) if len(options) == 1 else raw
    if origin is typing.Literal:
        if raw not in args:
            raise SnapshotError(f"{raw!r} is not one of {args}")
        return raw
    if annotation is datetime:
        return datetime.fromisoformat(raw)
    if annotation is timedelta:
        return timedelta(seconds=raw)
    if annotation is bytes:
        return base64.b64decode(raw)
    if annotation is IdFactory:
        counters = tuple((str(k), int(v)) for k, v in raw["counters"].items())
        return IdFactory(int(raw["seed"]), at=IdPosition(rng=_tuples(raw["rng"]), counters=counters))
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        hints = _hints(annotation)
        # A field the file lacks (saved before the field existed) takes its default, if it has one.
        kwargs = {f.name: decode(raw[f.name], hints[f.name]) for f in dataclasses.fields(annotation)
                  if not f.metadata.get("transient") and f.init and (f.name in raw or _required(f))}
        obj = annotation(**kwargs)
        for f in dataclasses.fields(annotation):
            if not f.init and f.name in raw:
                setattr(obj, f.name, decode(raw[f.name], hints[f.name]))
        return obj
    if origin in (dict,) or annotation is dict:
        key_t, value_t = args or (Any, Any)
        pairs = raw[PAIRS] if PAIRS in raw else raw.items()
        return {_key(decode(k, key_t)): decode(v, value_t) for k, v in pairs}
    if origin is list or annotation is list:
        (item_t,) = args or (Any,)
        return [decode(v, item_t) for v in raw]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(v, args[0]) for v in raw)
        return tuple(decode(v, t) for v, t in zip(raw, args, strict=True))
    if origin in (set, frozenset):
        return origin(decode(v, args[0]) for v in raw)
    if annotation in (int, float, str, bool):
        if not isinstance(raw, annotation) and not (annotation is float and isinstance(raw, int)):
            raise SnapshotError(f"expected {annotation.__name__}, got {raw!r}")
        return raw
    raise SnapshotError(f"cannot read back a {annotation!r}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field annotations, once per class (a big world decodes millions of rows)."""
    return typing.get_type_hints(cls)


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def write(path: Path, payload: Mapping[str, Any]) -> None:
    """Write atomically (a temporary file renamed over the old one): a crash never leaves half a file."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps({"format": FORMAT, **payload}, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError) as exc:
        raise SnapshotError(f"cannot write the state file {path}: {exc}") from exc


def read(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read the state file {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not a paywall-emulator state file of format {FORMAT}")
    return payload
