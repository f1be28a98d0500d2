"""Reading YAML files (the specs, seed documents) fast: libyaml's safe loader when PyYAML has it (the
same document as the pure-Python one, ~5x faster), and a cache of each parsed document in the user's
cache folder (`cache.cache_folder()`), so a warm start imports no YAML parser at all. No aiohttp.

Cache entries are named by a hash of the file's bytes (never stale) and stored with `marshal` (plain
data only; loading one runs no code). Any problem with the cache (unwritable, corrupt, a value marshal
cannot hold) just means a parse.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

from .cache import cache_folder

_CACHE_FORMAT = f"2-{marshal.version}"


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
    cache = _cache_file(raw)
    try:
        return marshal.loads(cache.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    doc = parse_yaml(raw)
    _store(cache, doc)
    return doc


def _cache_file(raw: bytes) -> Path:
    digest = hashlib.sha256(_CACHE_FORMAT.encode() + b"\0" + raw).hexdigest()
    return cache_folder() / f"yaml-{digest[:32]}.marshal"


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
