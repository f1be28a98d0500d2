"""Seeded, deterministic identifiers.

Owns `IdFactory`: one per `Store`, reseeded on reset, so the same seed and the same sequence of
calls give the same ids. Acquirer modules shape their own ids from its primitives. No aiohttp.
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

from .structs import struct

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits


@struct(frozen=True)
class IdPosition:
    """Where an id factory stands: its generator's state (None: untouched since seeding) and its
    counters. Immutable, so one position can start any number of factories."""

    rng: tuple[Any, ...] | None = None
    counters: tuple[tuple[str, int], ...] = ()


class IdFactory:
    def __init__(self, seed: int, *, at: IdPosition | None = None) -> None:
        self.seed = seed
        # The generator is made on the first draw (seeding costs as much as a small world's reset, and
        # most resets are followed by few draws or none): from the seed, or from `at` when given.
        self._start = at.rng if at is not None else None
        self._generator: random.Random | None = None
        self._counters: dict[str, int] = dict(at.counters) if at is not None else {}

    @property
    def _rng(self) -> random.Random:
        rng = self._generator
        if rng is None:
            rng = self._generator = random.Random(self.seed) if self._start is None else random.Random()
            if self._start is not None:
                rng.setstate(self._start)
        return rng

    def position(self) -> IdPosition:
        """Where this factory stands now: `IdFactory(seed, at=...)` goes on from here."""
        rng = self._generator.getstate() if self._generator is not None else self._start
        return IdPosition(rng=rng, counters=tuple(self._counters.items()))

    def rng_state(self) -> tuple[Any, ...]:
        """The generator's state (what `random.Random.getstate` gives), for the state file."""
        return self._rng.getstate()

    def alnum(self, length: int, *, lower: bool = False) -> str:
        alphabet = _LOWER_ALNUM if lower else _ALNUM
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def digits(self, length: int) -> str:
        return str(self._rng.randint(1, 9)) + "".join(self._rng.choice(string.digits) for _ in range(length - 1))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def prefixed(self, prefix: str, length: int = 24) -> str:
        return f"{prefix}{self.alnum(length)}"

    def sequence(self, name: str, start: int = 1) -> int:
        value = self._counters.get(name, start - 1) + 1
        self._counters[name] = value
        return value

    def chance(self, probability: float) -> bool:
        """A seeded coin flip, for acquirer quirks that happen "sometimes"."""
        return self._rng.random() < probability

    def token(self, nbytes: int = 24) -> str:
        return self._rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()
