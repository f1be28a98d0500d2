"""Seeded, deterministic identifiers.

Owns `IdFactory`: one per `Store`, reseeded on reset, so the same seed and the same sequence of
calls give the same ids. Acquirer modules shape their own ids from its primitives. No aiohttp.
"""

from __future__ import annotations

import random
import string
import uuid

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits


class IdFactory:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._counters: dict[str, int] = {}

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
