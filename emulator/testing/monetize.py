"""The monetize product's world as tests see it: `Paywalls` (ids by name, lookups by acquirer),
`PaywallInfo` and `PriceInfo`, read from the live store by `paywalls_of` (`ThreadedEmulator.paywalls`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import NoReturn

from ..engine.structs import struct
from ..engine.world import World
from ..products.monetize.state import PRODUCT_NAME, Store, store_of


@struct(frozen=True, kw_only=True)
class PriceInfo:
    """One price of a paywall, as seeded (`amount` in major units)."""

    id: str
    label: str | None
    amount: float
    currency: str
    interval: str | None  # day | week | month | year | lifetime (None = one-time)
    interval_count: int | None
    trial_days: int | None
    active: bool


@struct(frozen=True, kw_only=True)
class PaywallInfo:
    """A paywall of the current world: who owns it, which acquirer sells it, its prices."""

    id: str
    name: str
    owner_id: str
    acquirer: str
    test_mode: bool
    token_types: tuple[str, ...]
    prices: tuple[PriceInfo, ...]

    @property
    def tokenized(self) -> bool:
        return bool(self.token_types)

    def price(self, label: str) -> PriceInfo:
        """The active price with this label (`info.price("Monthly").id`)."""
        for price in self.prices:
            if price.active and price.label == label:
                return price
        labels = sorted({p.label for p in self.prices if p.active and p.label})
        raise KeyError(f"paywall {self.id} has no active price labelled {label!r} (labels: {labels})")


class Paywalls(Mapping[str, str]):
    """Paywall ids by name (`paywalls["Upgrade to Pro"] == "3"`), plus lookups by acquirer.

    Iterates over names in world-file order; `info(name_or_id)` gives the whole `PaywallInfo`.
    """

    def __init__(self, infos: Sequence[PaywallInfo]) -> None:
        self._infos = tuple(infos)
        by_name: dict[str, str] = {}
        for info in self._infos:
            by_name.setdefault(info.name, info.id)  # names are not unique across owners: the first wins
        self._by_name = MappingProxyType(by_name)

    def __getitem__(self, name: str) -> str:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no paywall named {name!r}; the world has {list(self._by_name)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Paywalls({dict(self._by_name)!r})"

    @property
    def all(self) -> tuple[PaywallInfo, ...]:
        """Every paywall, in world-file order."""
        return self._infos

    def info(self, key: str) -> PaywallInfo:
        """The paywall with this name or id."""
        for wanted in (key, self._by_name.get(key)):
            for info in self._infos:
                if info.id == wanted:
                    return info
        self._missing(f"named or with id {key!r}")

    def by_acquirer(self, acquirer: str, *, owner_id: str | None = None, tokenized: bool | None = None) -> str:
        """The id of the first paywall (in world-file order) sold through `acquirer` (stripe, paddle, freemius,
        chargebee, overpay), optionally of one owner and tokenized or not."""
        for info in self._infos:
            if (info.acquirer == acquirer and (owner_id is None or info.owner_id == owner_id)
                    and (tokenized is None or info.tokenized == tokenized)):
                return info.id
        self._missing(f"sold through {acquirer!r}")

    def tokenized(self, *, owner_id: str | None = None) -> str:
        """The id of the first tokenized paywall (token balances and the AI gateway)."""
        for info in self._infos:
            if info.tokenized and (owner_id is None or info.owner_id == owner_id):
                return info.id
        self._missing("that is tokenized")

    def _missing(self, what: str) -> NoReturn:
        known = ", ".join(f"{i.id} {i.name!r} ({i.acquirer})" for i in self._infos)
        raise KeyError(f"no paywall {what}; the world has: {known}")


def monetize_store(world: World) -> Store:
    """The world's monetize store; LookupError when this emulator does not serve monetize.software."""
    if PRODUCT_NAME not in world.states:
        raise LookupError(f"this emulator does not serve monetize.software (it serves {', '.join(world.states)}; "
                          "see EmulatorConfig.products)")
    return store_of(world)


def paywalls_of(world: World) -> Paywalls:
    """The paywalls of the world's monetize store (call it on the emulator's loop thread)."""
    store = monetize_store(world)
    prices: dict[str, list[PriceInfo]] = {}
    for p in store.prices.values():
        prices.setdefault(p.paywall_id, []).append(PriceInfo(
            id=p.id, label=p.label, amount=p.amount, currency=p.currency, interval=p.interval,
            interval_count=p.interval_count, trial_days=p.trial_days, active=p.active))
    return Paywalls([
        PaywallInfo(id=pw.id, name=pw.name, owner_id=pw.owner_id, acquirer=pw.acquirer, test_mode=pw.test_mode,
                    token_types=tuple(t.type for t in pw.token_types), prices=tuple(prices.get(pw.id, ())))
        for pw in store.paywalls.values()
    ])
