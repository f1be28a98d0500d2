"""pytest11 entry point of paywall-emulator: the `paywall_*` fixtures, `--paywall-*` options and markers.

This module loads into every pytest session of a project that installed the package, so importing it
imports pytest and the standard library only; the emulator (aiohttp, the specs) loads when a test first
asks for one of its fixtures, and a session that never does starts nothing.

Fixtures:
- `paywall_emulator`: a `ThreadedEmulator` shared by the session (by each pytest-xdist worker), reset to
  its world file before each test that uses it: `base_url`, `api_key`, `paywalls["Upgrade to Pro"]`, `control`.
- `paywall_webhooks`: a `WebhookReceiver` registered as a webhook endpoint for the test, signatures
  verified: `paywall_webhooks.wait_for("subscription.created")`.
- `paywall_clock`: the emulator's clock (`advance(days=30)`, `set(...)`, `now()`).
- `paywall_emulator_app`: a fresh `aiohttp.web.Application` per test, for `aiohttp_client` (pytest-aiohttp).

Configuration, most specific first: the markers `@pytest.mark.paywall_world(path)` and
`@pytest.mark.paywall_config(start_time=..., checkout_urls=...)`, the options `--paywall-world`,
`--paywall-start-time`, `--paywall-checkout-urls`, then the ini keys of the same names (`paywall_world`,
...). Each distinct configuration gets its own emulator, started on first use and kept for the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .engine.structs import struct

if TYPE_CHECKING:
    from aiohttp import web

    from .config import CheckoutUrlMode, EmulatorConfig
    from .testing import PaywallClock, ThreadedEmulator, WebhookReceiver

CHECKOUT_URL_MODES = ("hosted", "acquirer")

MARKERS = (
    "paywall_world(path): world file (YAML) of the paywall_emulator fixture for this test; a relative path starts at "
    "the test file's folder, then at the rootdir",
    "paywall_config(start_time=None, checkout_urls=None): emulator settings for this test: start_time (ISO 8601 or "
    "datetime) freezes the clock there after every reset; checkout_urls is 'hosted' or 'acquirer'",
)


@struct(frozen=True)
class _Settings:
    """What tells one pooled emulator from another."""

    world: Path | None
    start_time: datetime | None
    checkout_urls: str
    products: tuple[str, ...] | None = None  # None: every bundled product

    def config(self) -> EmulatorConfig:
        from .config import EmulatorConfig

        mode: CheckoutUrlMode = "acquirer" if self.checkout_urls == "acquirer" else "hosted"
        return EmulatorConfig(world=self.world, start_time=self.start_time, checkout_urls=mode,
                              strict_responses=True, products=self.products)

    def describe(self) -> str:
        parts = [f"world={self.world or 'bundled'}", f"checkout_urls={self.checkout_urls}"]
        if self.products is not None:
            parts.append(f"products={','.join(self.products)}")
        if self.start_time is not None:
            parts.append(f"start_time={self.start_time.isoformat()}")
        return ", ".join(parts)


_DEFAULTS = pytest.StashKey[_Settings]()


# --- hooks ----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paywall-emulator", "paywall-emulator fixtures (paywall_emulator, paywall_webhooks, ...)")
    group.addoption("--paywall-world", dest="paywall_world", metavar="FILE", default=None,
                    help="world file (YAML) of the paywall_emulator fixture (default: the bundled world)")
    group.addoption("--paywall-start-time", dest="paywall_start_time", metavar="ISO8601", default=None,
                    help="freeze the emulator clock at this instant after every reset (default: follow wall time)")
    group.addoption("--paywall-checkout-urls", dest="paywall_checkout_urls", choices=CHECKOUT_URL_MODES,
                    default=None, help="start-checkout returns the emulator's hosted page (default) or "
                                       "acquirer-shaped URLs")
    group.addoption("--paywall-products", dest="paywall_products", metavar="NAMES", default=None,
                    help="serve only these bundled products, comma-separated (default: all)")
    parser.addini("paywall_world", "world file (YAML) of the paywall_emulator fixture (relative to the ini file)")
    parser.addini("paywall_start_time", "freeze the emulator clock at this instant after every reset")
    parser.addini("paywall_checkout_urls", "hosted (default) or acquirer")
    parser.addini("paywall_products", "the bundled products the fixture serves, comma-separated (default: all)")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    world: Path | None = None
    if option := config.getoption("paywall_world"):
        world = Path(option).expanduser().resolve()
    elif ini := str(config.getini("paywall_world") or ""):
        world = (base / Path(ini).expanduser()).resolve()
    if world is not None and not world.is_file():
        raise pytest.UsageError(f"paywall-emulator: no world file {world} (--paywall-world / paywall_world)")
    start = config.getoption("paywall_start_time") or str(config.getini("paywall_start_time") or "") or None
    mode = config.getoption("paywall_checkout_urls") or str(config.getini("paywall_checkout_urls") or "") or "hosted"
    try:
        products = _products(config.getoption("paywall_products") or str(config.getini("paywall_products") or ""))
        config.stash[_DEFAULTS] = _Settings(world=world, start_time=_start_time(start),
                                            checkout_urls=_checkout_urls(mode), products=products)
    except ValueError as exc:
        raise pytest.UsageError(f"paywall-emulator: {exc}") from None


# --- settings of one test ---------------------------------------------------------------------------


def _start_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"start time must be an ISO 8601 instant, got {value!r}") from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _products(value: str) -> tuple[str, ...] | None:
    if not value:
        return None  # every product; and the app (with aiohttp) stays unimported until a fixture asks
    from .app import product_names

    try:
        return product_names(value)
    except ValueError as exc:
        raise ValueError(f"{exc} (--paywall-products / paywall_products)") from None


def _checkout_urls(value: Any) -> str:
    if value not in CHECKOUT_URL_MODES:
        raise ValueError(f"checkout URLs must be one of {', '.join(CHECKOUT_URL_MODES)}, got {value!r}")
    return str(value)


def _world_path(request: pytest.FixtureRequest, raw: Any) -> Path:
    path = Path(raw).expanduser()
    candidates = [path] if path.is_absolute() else [request.node.path.parent / path, request.config.rootpath / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    pytest.fail(f"paywall_world: no world file {raw!r} (looked at {', '.join(map(str, candidates))})", pytrace=False)


def _settings(request: pytest.FixtureRequest) -> _Settings:
    settings = request.config.stash[_DEFAULTS]
    world, start_time, mode = settings.world, settings.start_time, settings.checkout_urls
    if (marker := request.node.get_closest_marker("paywall_world")) is not None:
        if len(marker.args) != 1 or marker.kwargs:
            pytest.fail("use @pytest.mark.paywall_world(path) with exactly one path", pytrace=False)
        world = _world_path(request, marker.args[0])
    if (marker := request.node.get_closest_marker("paywall_config")) is not None:
        unknown = set(marker.kwargs) - {"start_time", "checkout_urls"}
        if marker.args or unknown:
            pytest.fail(f"paywall_config takes keyword arguments start_time and checkout_urls only "
                        f"(got {list(marker.args) + sorted(unknown)})", pytrace=False)
        try:
            if "start_time" in marker.kwargs:
                start_time = _start_time(marker.kwargs["start_time"])
            if "checkout_urls" in marker.kwargs:
                mode = _checkout_urls(marker.kwargs["checkout_urls"])
        except ValueError as exc:
            pytest.fail(f"paywall_config: {exc}", pytrace=False)
    return _Settings(world=world, start_time=start_time, checkout_urls=mode, products=settings.products)


class _EmulatorPool:
    """One running emulator per distinct configuration, started on first use, stopped with the session."""

    def __init__(self) -> None:
        self._running: dict[_Settings, ThreadedEmulator] = {}
        self._failed: dict[_Settings, str] = {}  # a broken world file fails every test that wants it, started once

    def get(self, settings: _Settings) -> ThreadedEmulator:
        emulator = self._running.get(settings)
        if emulator is None:
            from .testing import ThreadedEmulator

            if settings not in self._failed:
                try:
                    emulator = ThreadedEmulator(settings.config()).start()
                except RuntimeError as exc:
                    cause = exc.__cause__ or exc
                    self._failed[settings] = (f"paywall_emulator did not start ({settings.describe()}): "
                                              f"{type(cause).__name__}: {cause}")
            if emulator is None:
                pytest.fail(self._failed[settings], pytrace=False)
            self._running[settings] = emulator
        return emulator

    def close(self) -> None:
        while self._running:
            _, emulator = self._running.popitem()
            emulator.stop()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _paywall_emulator_pool() -> Iterator[_EmulatorPool]:
    pool = _EmulatorPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def paywall_emulator(request: pytest.FixtureRequest, _paywall_emulator_pool: _EmulatorPool) -> ThreadedEmulator:
    """A running emulator (own loop in a thread, 127.0.0.1, free port), shared by the session (by each
    xdist worker) and reset to its world file before this test: `base_url`, `api_key`, `paywalls[name]` → id,
    `control` (clock, checkouts, webhooks, faults, Bearer tokens), `reset()`."""
    emulator = _paywall_emulator_pool.get(_settings(request))
    emulator.restore()
    return emulator


@pytest.fixture(scope="session")
def _paywall_webhook_server() -> Iterator[WebhookReceiver]:
    from .testing import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def paywall_webhooks(paywall_emulator: ThreadedEmulator, _paywall_webhook_server: WebhookReceiver) -> WebhookReceiver:
    """A webhook receiver registered (for every event type of the world's first owner) on this test's
    emulator; it accepts only deliveries whose signatures verify: `wait_for("subscription.created")`."""
    receiver = _paywall_webhook_server
    receiver.rotate()
    receiver.register(paywall_emulator.control)
    return receiver


@pytest.fixture
def paywall_clock(paywall_emulator: ThreadedEmulator) -> PaywallClock:
    """The emulator's clock: `now()`, `advance(days=30)`, `set(when)`, `freeze()`, `unfreeze()`."""
    return paywall_emulator.clock


@pytest.fixture
def paywall_emulator_app(request: pytest.FixtureRequest) -> web.Application:
    """A fresh emulator application for this test, to serve on the test's own loop:
    `client = await aiohttp_client(paywall_emulator_app)` (pytest-aiohttp)."""
    from .app import create_app

    return create_app(_settings(request).config())
