"""The per-user cache folder (`$XDG_CACHE_HOME/paywall-emulator`, else `~/.cache/paywall-emulator`): data
that is slow to compute and safe to lose (parsed YAML, the specs' inlined path items, Hypothesis' unicode
tables). Nothing in it is ever needed for correctness; a missing or unwritable folder only costs time."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "paywall-emulator")
