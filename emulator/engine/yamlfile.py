"""Reading YAML files (the specs, seed documents) fast: libyaml's safe loader when PyYAML has it (the
same document as the pure-Python one, ~5x faster), and a cache of each parsed document in the user's
cache folder (`cache.cache_folder()`), so a warm start imports no YAML parser at all. No aiohttp.

Cache entries are named by a hash of the file's bytes (never stale), plus a name for a value derived
from the document (`read_yaml_derived`), and stored with `marshal` (plain data only; loading one runs no
code). Any problem with the cache (unwritable, corrupt, a value marshal
cannot hold) just means a parse.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .cache import cache_folder

_CACHE_FORMAT = f"2-{marshal.version}"
T = TypeVar("T")


class YamlError(ValueError):
    """The bytes are not a YAML document. `line`/`column` (1-based) point at the problem when the parser
    knows where it is; `problem` is the parser's short reason."""

    def __init__(self, message: str, *, problem: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message
        self.line = line
        self.column = column


def parse_yaml(raw: str | bytes) -> Any:
    """The document in `raw`, built with safe constructors only."""
    import yaml  # here, not at the top: a warm start never parses

    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(raw, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        context = getattr(exc, "context", None)
        reason = f"{problem} ({context})" if problem and context else problem
        raise YamlError(str(exc), problem=reason, line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None) from exc


def read_yaml_file(path: Path) -> Any:
    """The parsed document in the file at `path` (OSError if unreadable, YamlError if not YAML)."""
    raw = path.read_bytes()
    return _cached(_entry(_digest(raw), ""), lambda: parse_yaml(raw))


def read_yaml_derived(path: Path, name: str, derive: Callable[[Any], T]) -> tuple[Any, T]:
    """The parsed document in the file at `path` and `derive(document)`, the derived value cached like the
    document (plain data; sharing within it is kept). `name` tells derivations apart: change it when what
    `derive` returns changes. An exception from `derive` caches nothing."""
    raw = path.read_bytes()
    digest = _digest(raw)
    doc = _cached(_entry(digest, ""), lambda: parse_yaml(raw))
    return doc, _cached(_entry(digest, name), lambda: derive(doc))


def _cached(cache: Path, make: Callable[[], T]) -> T:
    try:
        value: T = marshal.loads(cache.read_bytes())
        return value
    except (OSError, ValueError, EOFError, TypeError):
        pass
    value = make()
    _store(cache, value)
    return value


def _digest(raw: bytes) -> str:
    """What names a file's cache entries: a hash of its bytes and of the cache's format."""
    return hashlib.sha256(_CACHE_FORMAT.encode() + b"\0" + raw).hexdigest()[:32]


def _entry(digest: str, name: str) -> Path:
    return cache_folder() / f"yaml-{digest}{'-' + name if name else ''}.marshal"


def _store(target: Path, doc: Any) -> None:
    try:
        data = marshal.dumps(doc)
    except ValueError:  # a value marshal cannot hold (YAML timestamps, ...): no cache for this one
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # atomic: concurrent starts (xdist workers) never read half a file
    except OSError:
        return
