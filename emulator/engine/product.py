"""The seam between the engine and an emulated product: what a product hands the engine so that
`create_app` can serve it (its spec, handlers, state, world-file section, error shape, auth, due work,
background tasks). The engine reads `Product` values only; it never imports a product package.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime
from itertools import islice
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..config import Limits
from .errors import EmulatorError, render_error
from .ids import IdFactory
from .structs import struct

if TYPE_CHECKING:
    from aiohttp import web

    from .call import Call
    from .inspector import Table


@struct(frozen=True, kw_only=True)
class Transition:
    """One state change run while time passed (a renewal, an expiry, a webhook attempt), as of `at`.

    Products subclass it with their own fields (ids, statuses, instants; scalars or datetimes only), in
    the order the control API shows them: engine views render `{type, at, ...every other field}`."""

    kind: str
    at: datetime


class DueSource(Protocol):
    """Something with work due at instants of emulator time (renewals, expiries, webhook retries).
    `World.catch_up` interleaves every source of every product in time order."""

    # Background sources (webhook delivery) are run by their own worker as time passes and driven inline
    # only by explicit clock moves; the per-request catch-up skips them.
    background: bool

    def next_due(self, state: Any) -> datetime | None:
        """The earliest instant at which this source has work in its product's state, or None."""
        ...

    async def run_due(self, state: Any, at: datetime) -> Sequence[Transition]:
        """Perform everything due at or before `at`, as of `at`; describe each transition."""
        ...


class EventRef(Protocol):
    """What the engine reads of a product's domain event."""

    @property
    def id(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


class WorldError(EmulatorError):
    """A world file (or one product's section of it) that cannot be loaded; nothing was changed."""

    status = 400
    default_code = "invalid_request"
    default_message = "The world document is invalid"
    # The product whose section was refused (set by `World` when a product's loader raised).
    section: str | None = None


@struct(frozen=True, kw_only=True)
class WorldLoad:
    """What a product's loader gets besides its section: the instant of loading (relative times in a
    world file count from it) and a fresh id factory seeded with the id seed."""

    now: datetime
    ids: IdFactory
    id_seed: int
    limits: Limits = field(default_factory=Limits)  # history caps (a state keeps them as `limits`)


# A world section checked once, building a fresh state for each `WorldLoad` it is given (see
# `Product.plan_world`).
WorldPlan = Callable[[WorldLoad], Any]


def _no_sources() -> Sequence[DueSource]:
    return ()


def _no_events(state: Any) -> Sequence[EventRef]:
    return ()


T = TypeVar("T")
DUMP_PAGE = 10_000  # rows per table of one state dump unless `limit` says otherwise (spec: dumpState)


@struct(kw_only=True)
class Page:
    """The window of the state dump a request asked for: rows `offset` to `offset + limit` of every table.
    Products cut each table with `rows`, which notes in `more` whether a table goes on past the window, so
    a dump's cost is bounded by `limit` whatever the size of the world."""

    offset: int = 0
    limit: int = DUMP_PAGE
    more: bool = False
    # The last `limit` rows instead (the inspector's window: a log's newest rows); `more` then says that
    # older rows exist.
    tail: bool = False

    @classmethod
    def asked(cls, query: Mapping[str, Any]) -> Page:
        """The window a request's validated `offset` and `limit` query parameters ask for."""
        return cls(offset=query.get("offset", 0), limit=query.get("limit", DUMP_PAGE))

    def rows(self, values: Iterable[T]) -> list[T]:
        if self.tail:
            window = list(deque(values, maxlen=self.limit + 1))
            if len(window) > self.limit:
                self.more = True
                del window[0]
            return window
        window = list(islice(values, self.offset, self.offset + self.limit + 1))
        if len(window) > self.limit:
            self.more = True
            del window[self.limit:]
        return window


def _no_dump(state: Any, now: datetime, page: Page) -> Any:
    return {}


def columns(rows: Iterable[Sequence[str]], indent: str = "  ") -> list[str]:
    """Banner lines whose columns line up: each cell padded to its column's widest, two spaces apart."""
    table = [list(row) for row in rows]
    widths = [max((len(row[i]) for row in table if i < len(row)), default=0)
              for i in range(max((len(row) for row in table), default=0))]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))).rstrip()
            for row in table]


@struct(frozen=True, kw_only=True)
class Product:
    """One emulated product. `name` keys its section in the world file and its state in the `World`."""

    name: str
    title: str
    spec: str  # a file under spec/: the product's public API
    control_spec: str | None = None  # its own control operations, all under /_emulator/
    handlers: tuple[ModuleType, ...]
    # Build the product's state for a world section (None: the world file has no such section), as of
    # `load.now`. Validate the whole section before returning; raise WorldError naming the place.
    load_world: Callable[[Mapping[str, Any] | None, WorldLoad], Any]
    # Optional, for fast resets: check a section once, as `load_world` would with that `WorldLoad` (same
    # refusals, same ids drawn), and return a plan that builds the same state from entities made afresh
    # on every call, for any later `WorldLoad` of the same world (same id seed and limits; relative times
    # count from its `now`, and checks that depend on `now` run again). None: `load_world` on each reset.
    plan_world: Callable[[Mapping[str, Any] | None, WorldLoad], WorldPlan] | None = None
    # The product's error body for any engine error (routing misses, validation, faults).
    render_error: Callable[[EmulatorError], Any] = render_error
    # Runs for each of its public operations before parameters and body are validated; the result is
    # `call.auth`. Raise an EmulatorError to refuse the call.
    authenticate: Callable[[Call], Any] | None = None
    # Fresh foreground due sources for one world (renewals, expiries); they get the state on each call.
    due_sources: Callable[[], Sequence[DueSource]] = _no_sources
    # Optional: a value of the state that changes whenever work is filed that could fall due earlier than
    # its foreground sources last reported (a new checkout, a period end filed); work that only moves later
    # or ends needs no change. While it is unchanged, a write through the product's operations keeps the
    # world's remembered due instant (`World.changed`). None: every such write asks its sources again.
    due_stamp: Callable[[Any], object] | None = None
    # The product's event log, oldest first (a clock move reports the events it caused), and how many
    # events were evicted from its front so far (the log's first entry is event number `evicted`).
    events: Callable[[Any], Sequence[EventRef]] = _no_events
    evicted_events: Callable[[Any], int] = lambda state: 0
    # Called once by create_app before the app starts: set the product's app keys and append its
    # cleanup_ctx entries (background tasks and client sessions for the app's lifetime).
    setup: Callable[[web.Application], None] | None = None
    # The state as JSON for GET /_emulator/state (every table, as a read at `now` would see it), each table
    # cut to the requested window (`Page.rows`).
    dump: Callable[[Any, datetime, Page], Any] = _no_dump
    # Its section of the inspector page (GET /_emulator/), from its part of the state dump (what `dump`
    # returned); None: one generic table per table of the dump.
    inspect: Callable[[Any], Sequence[Table]] | None = None
    # Lines `serve` prints about the loaded state (keys, ids a person needs to start).
    banner: Callable[[Any], Sequence[str]] = lambda state: ()
    # Request headers its browser clients send (CORS preflights allow them).
    cors_headers: tuple[str, ...] = ()
    # Response headers its browser clients read.
    exposed_headers: tuple[str, ...] = ()
