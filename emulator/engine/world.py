"""`World`: one emulator instance: the clock, the engine's tables (faults), each product's state, the
loaded world document, and the operations on all of them at once (reset, load a world, catch up with
time). Products get their state and `now` from it. No aiohttp.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import EmulatorConfig
from . import snapshot
from .clock import EmulatorClock, monotonic
from .faults import FaultTable
from .ids import IdFactory
from .product import DueSource, EventRef, Product, Transition, WorldError, WorldLoad, WorldPlan
from .structs import struct
from .worldfile import WorldDocument, read_world

_MAX_DATETIME = datetime.max.replace(tzinfo=UTC)
YIELD_EVERY = 64  # due instants run between two turns of the event loop in one catch-up


@struct
class World:
    config: EmulatorConfig
    clock: EmulatorClock
    products: tuple[Product, ...]
    initial: WorldDocument  # the world file it was started with (`restore` returns to it)
    document: WorldDocument  # the world loaded last: what `reset` returns to
    states: dict[str, Any] = field(default_factory=dict)
    ids: IdFactory = field(default_factory=lambda: IdFactory(0))  # the engine's own ids (faults)
    faults: FaultTable = field(default_factory=FaultTable)
    # (product name, source): every product's due work, interleaved by instant in `catch_up`.
    sources: list[tuple[str, DueSource]] = field(default_factory=list)
    # Until this instant no foreground source has work, as long as nothing changed the world since it
    # was computed (`changed()`; the number of sources is part of the key): the per-request catch-up
    # then costs one comparison instead of asking every source.
    _quiet: tuple[datetime, int] | None = field(default=None, repr=False)
    # The same per product (its earliest foreground due instant), for the products nothing changed since,
    # with the number of sources it was computed with: after a write through one product's operation only
    # that product's sources are asked again.
    _due: dict[str, datetime] = field(default_factory=dict, repr=False)
    _due_sources: int = field(default=0, repr=False)
    # Each product's `due_stamp` as it was when its `_due` entry was computed: a write after which the
    # stamp is the same filed no earlier work, and the entry (and `_quiet`) stand.
    _stamps: dict[str, object] = field(default_factory=dict, repr=False)
    # How often each product's remembered instant was forgotten (`changed`): a catch-up that yielded to
    # other requests keeps an instant it did not ask again only if its product was not changed meanwhile.
    _forgotten: dict[str, int] = field(default_factory=dict, repr=False)
    # While a clock move runs: the `monotonic()` instant by which the outside work it drives (webhook
    # attempts) must have answered; senders cut what is still unanswered then (`moves.wait_or_cut`).
    move_deadline: float | None = field(default=None, repr=False)
    # Names of products this emulator could serve but does not (left out on purpose; `create` takes every
    # name it could serve): a world document's sections for them are skipped instead of refused as unknown.
    foreign: frozenset[str] = frozenset()
    # The checked plans of the world documents a reset or a restore returns to (`document`, `initial`):
    # (document, the id seed it was checked with, each product's plan). A reset builds fresh states from
    # them instead of checking the document again. Keyed by the document object itself (`is`): a loaded
    # document is this world's own copy, never changed.
    _plans: list[tuple[WorldDocument, int, dict[str, WorldPlan]]] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, config: EmulatorConfig, products: Sequence[Product], *,
               foreign: frozenset[str] = frozenset()) -> World:
        names = [p.name for p in products]
        if len(set(names)) != len(names):
            raise WorldError(f"two products share a name: {names}")
        document = read_world(config.world) if config.world is not None else default_document(products)
        world = cls(config=config, clock=EmulatorClock(frozen_at=config.start_time), products=tuple(products),
                    initial=document, document=document, foreign=foreign - set(names))
        world.sources = [(p.name, s) for p in products for s in p.due_sources()]
        world.reset()
        return world

    @property
    def id_seed(self) -> int:
        return self.config.id_seed

    def now(self) -> datetime:
        return self.clock.now()

    def state(self, product: str) -> Any:
        return self.states[product]

    def reset(self) -> None:
        """Restart the clock (configured start time, or wall time) and rebuild every product's state from
        the world document loaded last, so a reset test sees exactly that world at that time."""
        self.clock.restart()
        self._install(self.document)

    def restore(self) -> None:
        """Reset to the world file the emulator was started with (dropping a world loaded since): what a
        fresh emulator would be."""
        self.clock.restart()
        self._install(self.initial)

    def load(self, document: Mapping[str, Any]) -> None:
        """Rebuild every product's state from `document`, as of now (refused whole, nothing changed, if any
        section is invalid); later resets return to it."""
        self._install({name: _copied(section) for name, section in document.items()})  # the caller may change theirs

    def _install(self, document: WorldDocument) -> None:
        now = self.clock.now()
        plans = next((plans for planned, seed, plans in self._plans
                      if planned is document and seed == self.id_seed), None)
        if plans is None:
            plans = self._plan(document, now)
        staged = {}
        for p in self.products:
            try:
                staged[p.name] = plans[p.name](self._load(now))
            except WorldError as exc:
                exc.section = exc.section or p.name
                raise
        self.states = staged
        self.document = document
        self._plans = [(document, self.id_seed, plans),
                       *[kept for kept in self._plans if kept[0] is self.initial and kept[0] is not document]]
        self.ids = IdFactory(self.id_seed)
        self.faults = FaultTable()
        self.changed()

    def _load(self, now: datetime) -> WorldLoad:
        return WorldLoad(now=now, ids=IdFactory(self.id_seed), id_seed=self.id_seed, limits=self.config.limits)

    def _plan(self, document: WorldDocument, now: datetime) -> dict[str, WorldPlan]:
        """Check `document` whole (every section, as of `now`) into one plan per product."""
        unknown = sorted(set(document) - {p.name for p in self.products} - self.foreign)
        if unknown:
            raise WorldError(f"{unknown[0]}: unknown section of the world document; sections are product names: "
                             f"{', '.join(p.name for p in self.products)}")
        plans: dict[str, WorldPlan] = {}
        for p in self.products:
            try:
                section = _section(document, p.name)
                if p.plan_world is not None:
                    plans[p.name] = p.plan_world(section, self._load(now))
                else:
                    plans[p.name] = functools.partial(p.load_world, section)
            except WorldError as exc:
                exc.section = exc.section or p.name
                raise
        return plans

    def save(self, path: Path) -> None:
        """Write the whole world (every product's state, both world documents, the clock) to `path`."""
        snapshot.write(path, {"id_seed": self.id_seed, "clock": self.clock.snapshot(), "initial": self.initial,
                              "document": self.document,
                              "states": {name: snapshot.encode(state) for name, state in self.states.items()}})

    def resume(self, path: Path) -> None:
        """Go on from a world saved by `save` (refused whole, nothing changed, if it does not read back)."""
        payload = snapshot.read(path)
        names = sorted(p.name for p in self.products)
        if payload.get("id_seed") != self.id_seed or sorted(payload.get("states") or {}) != names:
            raise snapshot.SnapshotError(f"{path} was saved by an emulator with id seed {payload.get('id_seed')} "
                                         f"serving {sorted(payload.get('states') or {})}; this one has id seed "
                                         f"{self.id_seed} and serves {names}")
        try:
            states = {name: snapshot.decode(payload["states"][name], type(self.states[name])) for name in names}
            initial, document = dict(payload["initial"]), dict(payload["document"])
            clock = dict(payload["clock"])
        except (KeyError, TypeError, ValueError) as exc:
            raise snapshot.SnapshotError(f"{path} does not hold a world this emulator can read: {exc!r}") from exc
        for state in states.values():
            if hasattr(state, "limits"):  # caps are configuration, not saved state: this run's apply
                state.limits = self.config.limits
        self.states, self.initial, self.document = states, initial, document
        self.clock.resume(clock)
        self.changed()

    def add_source(self, product: str, source: DueSource) -> None:
        self.sources.append((product, source))
        self.changed()

    def remove_source(self, source: DueSource) -> None:
        self.sources = [(name, s) for name, s in self.sources if s is not source]
        self.changed()

    def changed(self, product: str | None = None) -> None:
        """Something may have scheduled new work (a write request, a reset): the next catch-up asks
        every source again, or only the sources of `product` when the change was confined to its state
        (a write through one of its operations; products never touch each other's state), and not even
        those when it has no foreground source or its `due_stamp` says it filed nothing. Reads never
        schedule work, so only writes call this."""
        if product is not None and not any(name == product and not s.background for name, s in self.sources):
            return  # no foreground source: the product has no foreground work to forget
        if product is not None and product in self._due and product in self._stamps:
            stamp = self._stamper(product)
            if stamp is not None and stamp(self.states[product]) == self._stamps[product]:
                return  # it filed nothing that could fall due earlier: what was remembered stands
        self._quiet = None
        for name in [p.name for p in self.products] if product is None else [product]:
            self._forgotten[name] = self._forgotten.get(name, 0) + 1
        if product is None:
            self._due.clear()
        else:
            self._due.pop(product, None)

    async def catch_up(self, until: datetime | None = None, *, background: bool = False) -> list[Transition]:
        """Run everything due up to `until` (default: now) in time order, until quiescent.

        Each due item runs as of its own due instant (a renewal is stamped at the period end, not
        at `until`). `background=True` also drives background sources (explicit clock moves): the
        move then gives all the outside work it drives one shared real-time deadline, one
        `webhook_timeout` from now (`move_deadline`). Every `YIELD_EVERY` instants it lets other
        requests run, so a long move never holds the server.
        """
        target = until or self.clock.now()
        quiet = self._quiet
        if not background and quiet is not None and target < quiet[0] and quiet[1] == len(self.sources):
            return []
        if not background or self.move_deadline is not None:
            return await self._run_due(target, background)
        self.move_deadline = monotonic() + self.config.webhook_timeout
        try:
            return await self._run_due(target, background)
        finally:
            self.move_deadline = None

    async def _run_due(self, target: datetime, background: bool) -> list[Transition]:
        # Products with nothing due before their remembered instant are left out (their state cannot
        # change while other products' work runs); a clock move asks every source.
        remembered = not background and self._due_sources == len(self.sources)
        settled = {name: at for name, at in self._due.items() if target < at} if remembered else {}
        forgotten = dict(self._forgotten)
        self._quiet, self._due = None, {}
        transitions: list[Transition] = []
        for step in range(1, 1_000_001):  # a bound, not a budget: quiescence comes long before
            if step % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # other requests go on between steps of a long move
            # (next due instant or None, product, source) of every source asked, in the sources' order.
            asked = [(s.next_due(self.states[name]), name, s) for name, s in self.sources
                     if (background or not s.background) and name not in settled]
            at = min((when for when, _, _ in asked if when is not None and when <= target), default=None)
            if at is None:
                if not background:
                    # A product changed while this ran (a long run yields to other requests) has no known
                    # instant now: the next catch-up asks its sources.
                    kept = {name: when for name, when in settled.items()
                            if self._forgotten.get(name, 0) == forgotten.get(name, 0)}
                    self._settle(kept, asked, whole=len(kept) == len(settled))
                return transitions
            for when, name, source in asked:
                if when == at:
                    transitions.extend(await source.run_due(self.states[name], at))
        raise RuntimeError("catch_up did not reach quiescence (a source keeps scheduling work in the past)")

    def _settle(self, settled: dict[str, datetime], asked: list[tuple[datetime | None, str, DueSource]], *,
                whole: bool = True) -> None:
        """Remember, per product and for the whole world (`whole`: no product is left unknown), until when
        nothing in the foreground is due."""
        due = dict(settled)
        for at, name, _ in asked:
            known = due.get(name, _MAX_DATETIME)
            due[name] = at if at is not None and at < known else known
        self._due, self._due_sources = due, len(self.sources)
        self._quiet = (min(due.values(), default=_MAX_DATETIME), len(self.sources)) if whole else None
        self._stamps = {p.name: p.due_stamp(self.states[p.name]) for p in self.products
                        if p.due_stamp is not None and p.name in due}

    def _stamper(self, product: str) -> Callable[[Any], object] | None:
        return next((p.due_stamp for p in self.products if p.name == product), None)

    def event_marks(self) -> dict[str, int]:
        """How many events each product has logged so far, evicted ones included (see `events_since`)."""
        return {p.name: p.evicted_events(state) + len(p.events(state))
                for p in self.products for state in (self.states[p.name],)}

    def events_since(self, marks: dict[str, int]) -> list[EventRef]:
        """Every event logged after `marks` was taken and still kept, in time order across products."""
        found = [e for p in self.products for state in (self.states[p.name],)
                 for e in p.events(state)[max(marks.get(p.name, 0) - p.evicted_events(state), 0):]]
        return sorted(found, key=lambda e: e.created_at)


def _copied(value: Any) -> Any:
    """A copy of a world document's tree of dicts and lists (its other values are immutable)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def _section(document: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    section = document.get(name)
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise WorldError(f"the world document's {name!r} section must be a mapping")
    return section


def default_document(products: Sequence[Product]) -> WorldDocument:
    """The bundled world file (fixtures/default.yaml), restricted to the products served."""
    from .worldfile import default_world

    document = read_world(default_world())
    return {name: section for name, section in document.items() if name in {p.name for p in products}}
