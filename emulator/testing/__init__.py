"""Helpers for using the emulator from tests, in or outside pytest.

- `ThreadedEmulator`: an emulator on its own event loop in a daemon thread (127.0.0.1, a free port), so
  blocking clients (requests, Schemathesis, other languages' SDKs via subprocess) can call it. `reset()`
  puts it back to the world it started with; `api_key` and `paywalls` describe that world.
- `ControlClient`: the `/_emulator` control API over plain HTTP (stdlib only, so it works against
  `paywall-emulator serve` too). `PaywallClock` is its clock part with datetimes and timedeltas.
- `WebhookReceiver`: a local HTTP server (own loop in a thread) registered as a webhook endpoint. It
  verifies each delivery's signatures before accepting it; `wait_for(type)` blocks until one arrives.
- `verify_signature`: the check a merchant backend should make on every delivery.

The loop threads run a `RealTimeEventLoop`: freezegun swaps `time.monotonic` for the whole process, and
an ordinary loop in another thread then stalls (see the class). The emulator's *domain* clock still
follows `datetime.now()`, so freezegun and time-machine move it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType, TracebackType
from typing import Any, Literal, NoReturn, Self, TypeVar

from aiohttp import web

from ..app import create_app
from ..config import EmulatorConfig
from ..engine.keys import WORLD_KEY
from ..engine.middleware import server_options
from ..engine.world import World
from ..products.monetize.state import store_of

__all__ = [
    "ControlClient",
    "ControlError",
    "PaywallClock",
    "PaywallInfo",
    "Paywalls",
    "PriceInfo",
    "RealTimeEventLoop",
    "ReceivedWebhook",
    "ThreadedEmulator",
    "WebhookReceiver",
    "verify_signature",
]

T = TypeVar("T")
_START_TIMEOUT = 30.0


# --- event loops in threads ---------------------------------------------------------------------


def _unpatched_monotonic() -> Callable[[], float]:
    # freezegun replaces `time.monotonic` but not `time.clock_gettime`; time-machine passes every clock
    # but CLOCK_REALTIME through. Windows has no clock_gettime: fall back to what monotonic is right now.
    gettime = getattr(time, "clock_gettime", None)
    clock_id = getattr(time, "CLOCK_MONOTONIC", None)
    if gettime is not None and clock_id is not None:
        return functools.partial(gettime, clock_id)
    return time.monotonic


_real_monotonic = _unpatched_monotonic()


class RealTimeEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose timers follow the real monotonic clock, whatever patches time.

    `asyncio` schedules every timer (`sleep`, `wait_for`, aiohttp's keep-alive and timeouts) on
    `loop.time()`, which reads `time.monotonic()`. freezegun replaces that function process-wide: inside
    `freeze_time` an ordinary loop's timers never fire, and even with `real_asyncio=True` there is a
    moment, as the freeze starts and as it ends, when a loop running in *another* thread reads the fake
    value (seconds since 1970) and schedules a timer decades ahead. This loop never reads
    `time.monotonic`, so freezing time in a test never stalls the emulator or the webhook receiver.
    """

    def time(self) -> float:
        return _real_monotonic()


class _LoopThread:
    """A `RealTimeEventLoop` running forever in a daemon thread, driven from other threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = RealTimeEventLoop()
        self.loop = loop
        self._thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        self._thread.start()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = _START_TIMEOUT) -> T:
        """Run `coro` on the loop and wait for its result (its exception is raised here)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        loop, thread = self.loop, self._thread
        self.loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_START_TIMEOUT)


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, **server_options())
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)


# --- the emulator in a thread -------------------------------------------------------------------


class _ThreadedServer:
    """An aiohttp server on its own loop in a daemon thread: start/stop and the context manager, shared
    by `ThreadedEmulator` and `WebhookReceiver` (each builds its app in `_startup`)."""

    _what = "server"
    _thread: _LoopThread
    _runner: web.AppRunner | None

    def start(self) -> Self:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        try:
            self._thread.run(self._startup(), timeout=_START_TIMEOUT)
        except BaseException as exc:
            self._thread.stop()
            raise RuntimeError(f"the {self._what} failed to start") from exc
        return self

    def stop(self) -> None:
        """Stop serving (background tasks cancelled and awaited) and end the thread. Idempotent."""
        if self._thread.loop is None:
            return
        try:
            self._thread.run(self._shutdown(), timeout=_START_TIMEOUT)
        finally:
            self._thread.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _startup(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None



class ThreadedEmulator(_ThreadedServer):
    """An emulator served from a background thread; use it as a context manager.

    >>> with ThreadedEmulator() as emu:
    ...     emu.base_url  # 'http://127.0.0.1:PORT'
    ...     emu.paywalls["Upgrade to Pro"]  # '3'
    ...     emu.control.advance(days=1)

    `reset()` (what the `paywall_emulator` fixture does before each test) returns it to the world it
    started with. `call(fn, *args)` runs a function on the server's loop thread, for tests that need to
    read or change the in-memory `world` without racing requests.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._thread = _LoopThread("paywall-emulator")

    _what = "emulator"

    # --- lifecycle -----------------------------------------------------------------------

    async def _startup(self) -> None:
        if self.config.public_origin is None and self.port:
            self.config.public_origin = f"http://{self.host}:{self.port}"
        self.app = create_app(self.config)
        self._runner, self.port = await _serve(self.app, self.host, self.port)
        if self.config.public_origin is None:
            self.config.public_origin = f"http://{self.host}:{self.port}"

    # --- conveniences --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, the origin of the public API and of `/_emulator`."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """`base_url` + `path` (`emu.url("/api/v1/paywall/3/bootstrap")`)."""
        return self.base_url + path

    @property
    def world(self) -> World:
        """The in-memory world (clock, each product's state, the world document). Unstable: its shape
        follows the emulator's internals; touch it only through `call`."""
        if self.app is None:
            raise RuntimeError("the emulator is not running")
        return self.app[WORLD_KEY]

    @property
    def control(self) -> ControlClient:
        """A client of this emulator's control API."""
        return ControlClient(self.base_url, token=self.config.control_token)

    @property
    def clock(self) -> PaywallClock:
        """This emulator's clock, driven through the control API."""
        return PaywallClock(self.control)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the emulator's loop thread and return its result (for state access
        from tests without racing the server)."""

        async def run() -> T:
            return fn(*args)

        return self._thread.run(run())

    def reset(self) -> None:
        """What `POST /_emulator/reset` does: back to the world loaded last, the configured start time
        or wall time, no faults."""
        self.call(self.world.reset)

    def restore(self) -> None:
        """Back to the world file this emulator was started with (a world a test loaded is dropped), then
        reset: what a fresh emulator would be. The pytest fixture does this before each test."""
        self.call(self.world.restore)

    @property
    def api_key(self) -> str:
        """The first API key of the seed's first owner (`sk_emulator_acme_…` with the bundled world)."""
        keys = self.api_keys
        if not keys:
            raise LookupError("the world has no owner with an API key")
        return next(iter(keys.values()))

    @property
    def api_keys(self) -> Mapping[str, str]:
        """Owner id → that owner's first API key, in world-file order."""
        return self.call(lambda world: {o.id: o.api_keys[0] for o in store_of(world).owners.values() if o.api_keys},
                         self.world)

    @property
    def paywalls(self) -> Paywalls:
        """The paywalls of the current world, by name: `emu.paywalls["Upgrade to Pro"] == "3"`."""
        return self.call(_paywalls_of, self.world)


# --- the world's paywalls -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
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


def _paywalls_of(world: World) -> Paywalls:
    store = store_of(world)
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


# --- the control API ----------------------------------------------------------------------------


class ControlError(RuntimeError):
    """The control API answered an error; `status` and the parsed `body` (`{error, code, message}`)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


@functools.cache
def _direct_opener() -> urllib.request.OpenerDirector:
    # The emulator runs on loopback: an HTTP(S)_PROXY in the environment must not capture these calls.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _instant(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(slots=True)
class ControlClient:
    """A small client of `/_emulator` (stdlib only). Errors raise `ControlError`.

    Methods return the control API's JSON (see `spec/control.openapi.yaml`); list endpoints return
    the list itself (`deliveries()` is the `deliveries` array).
    """

    base_url: str
    timeout: float = 30.0
    token: str | None = None  # the emulator's control token (serve --control-token), if it has one

    def request(self, method: str, path: str, body: Any = None, *,
                query: Mapping[str, str | None] | None = None) -> Any:
        """`method /_emulator{path}` with an optional JSON body; the parsed answer (None when empty)."""
        data = json.dumps(body).encode() if body is not None else None
        url = f"{self.base_url.rstrip('/')}/_emulator{path}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["X-Emulator-Token"] = self.token
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _direct_opener().open(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                parsed = json.loads(payload) if payload else None
            except ValueError:
                parsed = payload.decode(errors="replace")
            raise ControlError(exc.code, parsed) from None
        return json.loads(raw) if raw else None

    # world

    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/health"))

    def reset(self) -> Any:
        """Back to the world loaded last (and restart the clock): `POST /_emulator/reset`."""
        return self.request("POST", "/reset")

    def load_world(self, document: Mapping[str, Any]) -> Any:
        """Rebuild every product from a world document (the world-file format as a mapping, one section per
        product) until the next reset."""
        return self.request("POST", "/world", dict(document))

    def state(self) -> Any:
        """Every table (for inspection; row shapes are not a stable API)."""
        return self.request("GET", "/state")

    # clock

    def clock(self) -> Any:
        """`{now, frozen}`."""
        return self.request("GET", "/clock")

    def now(self) -> datetime:
        """The emulator's current instant (aware, UTC)."""
        return _parse_instant(str(self.clock()["now"]))

    def set_clock(self, now: datetime | str, *, frozen: bool = True) -> Any:
        """Move the clock forward to `now` (ISO string or datetime; naive = UTC), frozen there unless
        `frozen=False`; whatever falls due on the way runs first."""
        return self.request("POST", "/clock", {"now": _instant(now), "frozen": frozen})

    def advance(self, *, seconds: float = 0, days: float = 0, minutes: float = 0, hours: float = 0) -> Any:
        """Move the clock forward; the answer lists the transitions and events on the way."""
        return self.request("POST", "/clock/advance", {"seconds": seconds + 60 * minutes + 3600 * hours,
                                                       "days": days})

    # users

    def mint_token(self, paywall_id: str, *, email: str | None = None, user_id: str | None = None) -> str:
        """A Bearer access token for a user of the paywall (an unknown email creates the user)."""
        body: dict[str, Any] = {"paywall_id": paywall_id}
        if email:
            body["email"] = email
        if user_id:
            body["user_id"] = user_id
        return str(self.request("POST", "/tokens", body)["access_token"])

    def mailbox(self, email: str | None = None) -> list[dict[str, Any]]:
        """The emulated mailbox (sign-up confirmations, sign-in codes, recovery links), newest first;
        only messages to `email` when given. Each has its `code` and `link` apart from the `text`."""
        return list(self.request("GET", "/mailbox", query={"email": email})["messages"])

    # checkouts, subscriptions, payments

    def checkout_session_id(self, checkout: str | Mapping[str, Any]) -> str:
        """The session id of a checkout: a `start-checkout` answer, its `checkoutUrl`, or the id itself."""
        if isinstance(checkout, Mapping):
            checkout = str(checkout["checkoutUrl"])
        if "://" not in checkout:
            return checkout
        marker = "/_emulator/checkout/"
        path = urllib.parse.urlsplit(checkout).path
        if marker in path:  # the emulator's hosted page
            return urllib.parse.unquote(path.split(marker, 1)[1].split("/", 1)[0])
        for row in self.state()["monetize"]["checkouts"]:  # an acquirer-shaped URL (--checkout-urls acquirer)
            if row.get("url") == checkout:
                return str(row["id"])
        raise LookupError(f"no checkout session has the URL {checkout!r}")

    def complete_checkout(self, checkout: str | Mapping[str, Any], **extra: Any) -> Any:
        """Pay a checkout session (by answer, URL or id): the payment, subscription and webhooks follow."""
        return self._act(f"/checkouts/{self._quote(self.checkout_session_id(checkout))}/complete", extra)

    def decline_checkout(self, checkout: str | Mapping[str, Any], **extra: Any) -> Any:
        """Decline the payment of a checkout session: no subscription, no `payment.completed`."""
        return self._act(f"/checkouts/{self._quote(self.checkout_session_id(checkout))}/decline", extra)

    def cancel_checkout(self, checkout: str | Mapping[str, Any], **extra: Any) -> Any:
        """The buyer abandons the checkout session."""
        return self._act(f"/checkouts/{self._quote(self.checkout_session_id(checkout))}/cancel", extra)

    def renew_subscription(self, subscription_id: str, **extra: Any) -> Any:
        """Renew a subscription now (a payment and `subscription.updated`)."""
        return self._act(f"/subscriptions/{self._quote(subscription_id)}/renew", extra)

    def fail_next_renewal(self, subscription_id: str, **extra: Any) -> Any:
        """Make the subscription's next renewal payment fail."""
        return self._act(f"/subscriptions/{self._quote(subscription_id)}/fail-next-renewal", extra)

    def expire_subscription(self, subscription_id: str, **extra: Any) -> Any:
        """End a subscription now."""
        return self._act(f"/subscriptions/{self._quote(subscription_id)}/expire", extra)

    def refund_payment(self, payment_id: str, **extra: Any) -> Any:
        """Refund a payment (`refund.created`; access is reversed)."""
        return self._act(f"/payments/{self._quote(payment_id)}/refund", extra)

    # webhooks and events

    def add_webhook_endpoint(self, url: str, *, secret: str | None = None, events: Sequence[str] | None = None,
                             owner_id: str | None = None) -> dict[str, Any]:
        """Register an endpoint (of `owner_id`, default the world's first owner) for `events` (default all);
        a secret is generated when none is given. The answer has `id` and `secret`."""
        body: dict[str, Any] = {"url": url}
        if secret is not None:
            body["secret"] = secret
        if events is not None:
            body["events"] = list(events)
        if owner_id is not None:
            body["owner_id"] = owner_id
        return dict(self.request("POST", "/webhooks/endpoints", body))

    def webhook_endpoints(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/webhooks/endpoints")["endpoints"])

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self.request("DELETE", f"/webhooks/endpoints/{self._quote(endpoint_id)}")

    def set_webhook_policy(self, endpoint_id: str, *, duplicate: bool = False, out_of_order: bool = False,
                           delay_seconds: float = 0) -> dict[str, Any]:
        """Receiver-testing policy of an endpoint (replaces the previous one; no arguments clears it)."""
        body: dict[str, Any] = {}
        if duplicate:
            body["duplicate"] = True
        if out_of_order:
            body["out_of_order"] = True
        if delay_seconds:
            body["delay_seconds"] = delay_seconds
        return dict(self.request("POST", f"/webhooks/endpoints/{self._quote(endpoint_id)}/policy", body))

    def deliveries(self, *, type: str | None = None, status: str | None = None, endpoint_id: str | None = None,
                   event_id: str | None = None) -> list[dict[str, Any]]:
        """The delivery log, every attempt included; filters combine with AND."""
        query = {"type": type, "status": status, "endpoint_id": endpoint_id, "event_id": event_id}
        return list(self.request("GET", "/webhooks/deliveries", query=query)["deliveries"])

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        """Send a delivery again now."""
        return dict(self.request("POST", f"/webhooks/deliveries/{self._quote(delivery_id)}/redeliver"))

    def events(self, *, type: str | None = None) -> list[dict[str, Any]]:
        """The event log as webhook envelopes, oldest first, whether or not any endpoint is registered."""
        return list(self.request("GET", "/events", query={"type": type})["events"])

    # faults

    def add_fault(self, operation_id: str, *, status: int | None = None, body: Mapping[str, Any] | None = None,
                  latency_ms: int | None = None, drop_connection: bool = False, after_commit: bool = False,
                  nth: int | None = None, times: int | None = None,
                  probability: float | None = None) -> dict[str, Any]:
        """Make calls of a public operation fail (`add_fault("startCheckout", status=503, times=1)`)."""
        spec: dict[str, Any] = {"operation_id": operation_id}
        optional = {"status": status, "body": dict(body) if body is not None else None, "latency_ms": latency_ms,
                    "nth": nth, "times": times, "probability": probability}
        spec.update({k: v for k, v in optional.items() if v is not None})
        if drop_connection:
            spec["drop_connection"] = True
        if after_commit:
            spec["after_commit"] = True
        return dict(self.request("POST", "/faults", spec))

    def faults(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/faults")["faults"])

    def delete_fault(self, fault_id: str) -> None:
        self.request("DELETE", f"/faults/{self._quote(fault_id)}")

    def clear_faults(self) -> None:
        self.request("DELETE", "/faults")

    # helpers

    def _act(self, path: str, extra: Mapping[str, Any]) -> Any:
        return self.request("POST", path, dict(extra) if extra else None)

    @staticmethod
    def _quote(segment: str) -> str:
        return urllib.parse.quote(segment, safe="")


class PaywallClock:
    """The emulator's clock through the control API (the `paywall_clock` fixture).

    Renewals, trial ends, daily top-ups and webhook retries follow this clock. It only moves forward.
    """

    def __init__(self, control: ControlClient) -> None:
        self.control = control

    def now(self) -> datetime:
        """The emulator's current instant (aware, UTC)."""
        return self.control.now()

    @property
    def frozen(self) -> bool:
        """True while the clock moves only through this API (not with wall time)."""
        return bool(self.control.clock()["frozen"])

    def set(self, when: datetime | str, *, frozen: bool = True) -> datetime:
        """Move to `when` (not earlier than now) and stay there (or run on with `frozen=False`)."""
        return _parse_instant(str(self.control.set_clock(when, frozen=frozen)["now"]))

    def freeze(self) -> datetime:
        """Stop the clock at the current instant, give or take a millisecond (so `advance` lands on exact
        instants). Returns where it stopped."""
        return self._pin(frozen=True)

    def unfreeze(self) -> datetime:
        """Let the clock follow wall time again from where it is (give or take a millisecond)."""
        return self._pin(frozen=False)

    def _pin(self, *, frozen: bool) -> datetime:
        # The API sets an instant, and reads come back in whole milliseconds: a running clock has moved
        # past the instant just read by the time the set arrives (409 clock_backwards). Aim a little
        # ahead, and further ahead on each refusal.
        margin = timedelta(milliseconds=1)
        for _ in range(4):
            try:
                return self.set(self.now() + margin, frozen=frozen)
            except ControlError as exc:
                if exc.code != "clock_backwards":
                    raise
                margin *= 10
        return self.set(self.now() + margin, frozen=frozen)

    def advance(self, delta: timedelta | None = None, *, days: float = 0, hours: float = 0, minutes: float = 0,
                seconds: float = 0) -> dict[str, Any]:
        """Move forward by `delta` and/or the keyword amounts, running whatever falls due on the way.
        Returns the control API's answer: `now`, `previous`, `transitions` and `events`."""
        extra = delta.total_seconds() if delta is not None else 0.0
        if extra < 0:
            raise ValueError("the emulator clock only moves forward")
        return dict(self.control.advance(days=days, hours=hours, minutes=minutes, seconds=seconds + extra))


# --- webhooks -----------------------------------------------------------------------------------


def verify_signature(secret: str, body: bytes, headers: Mapping[str, str], *,
                     require: Literal["any", "both"] = "any") -> bool:
    """The check a merchant backend should make on every delivery, before parsing the body.

    Both documented recipes are HMAC-SHA256 of the raw body keyed with the endpoint secret:
    `X-Signature: <hex>` (headless guide) and `X-Monetize-Signature: sha256=<hex>` (webhooks docs).
    With `require="any"` (default) at least one must be present and every one present must match, so
    a handler written against either recipe passes; `require="both"` wants both (the emulator sends both).
    Header names are case-insensitive.
    """
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    lower = {k.lower(): v for k, v in headers.items()}
    sent = [(lower[name], want) for name, want in (("x-signature", expected),
                                                    ("x-monetize-signature", f"sha256={expected}")) if name in lower]
    if not sent or (require == "both" and len(sent) < 2):
        return False
    return all(hmac.compare_digest(value.encode(), want.encode()) for value, want in sent)


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    """One delivery the receiver accepted: the raw body and headers as sent, and the parsed envelope."""

    body: bytes
    headers: Mapping[str, str]
    event: Mapping[str, Any]

    @property
    def id(self) -> str:
        """The event id (the same on every retry and duplicate: dedupe on it)."""
        return str(self.event["id"])

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def data(self) -> Mapping[str, Any]:
        data = self.event.get("data")
        return data if isinstance(data, Mapping) else {}

    @property
    def created_at(self) -> datetime:
        return _parse_instant(str(self.event["created_at"]))

    @property
    def delivery_id(self) -> str | None:
        """`X-Monetize-Delivery-Id` (emulator only): matches `control.deliveries()` ids."""
        return next((v for k, v in self.headers.items() if k.lower() == "x-monetize-delivery-id"), None)


class WebhookReceiver(_ThreadedServer):
    """A webhook endpoint for tests: an aiohttp server on its own loop in a thread (127.0.0.1, a free
    port) that accepts a delivery only when both signature headers verify with its secret.

    >>> with ThreadedEmulator() as emu, WebhookReceiver() as hooks:
    ...     hooks.register(emu.control)            # POST /_emulator/webhooks/endpoints
    ...     ...                                    # something that pays a checkout
    ...     event = hooks.wait_for("subscription.created")
    ...     event.data["subscription"]["status"]

    A delivery without both signature headers matching, or a body that is not a JSON envelope, is answered 401
    (or 400) and kept in `rejected`, never in `received`. `fail_next(n)` answers the next n deliveries
    with an error status to exercise the emulator's retries. `rotate()` starts a new, empty inbox at a
    new URL path: late deliveries addressed to the previous path are answered 410 and not recorded.
    """

    def __init__(self, *, secret: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secret = secret or f"whsec_test_{secrets.token_hex(16)}"
        self.host = host
        self.port = port
        self.endpoints: list[dict[str, Any]] = []
        self._thread = _LoopThread("paywall-webhook-receiver")
        self._runner: web.AppRunner | None = None
        self._cond = threading.Condition()
        self._received: list[ReceivedWebhook] = []
        self._rejected: list[tuple[str, bytes, Mapping[str, str]]] = []
        self._fail: list[int] = []  # statuses to answer the next deliveries with
        self._generation = 0

    _what = "webhook receiver"

    # --- lifecycle -----------------------------------------------------------------------

    async def _startup(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/{generation}", self._handle)
        self._runner, self.port = await _serve(app, self.host, self.port)

    # --- configuration -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where deliveries go (register this URL, or use `register`)."""
        return f"http://{self.host}:{self.port}/webhooks/{self._generation}"

    def register(self, control: ControlClient, *, events: Sequence[str] | None = None,
                 owner_id: str | None = None) -> dict[str, Any]:
        """Register `url` with this receiver's secret as a webhook endpoint of `owner_id` (default: the world's
        first owner) for `events` (default: every type). Returns the endpoint (`id`, `secret`, …)."""
        endpoint = control.add_webhook_endpoint(self.url, secret=self.secret, events=events, owner_id=owner_id)
        self.endpoints.append(endpoint)
        return endpoint

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """Answer the next `count` well-signed deliveries with `status` (not recorded as received): the
        emulator retries them on its clock (+1 min, +5 min, …; advance the clock to run the retries)."""
        with self._cond:
            self._fail.extend([status] * count)

    def rotate(self) -> None:
        """Forget everything received and rejected and move to a new URL path (re-register afterwards);
        endpoints registered before are forgotten too (a reset of the emulator drops them)."""
        with self._cond:
            self._generation += 1
            self._received.clear()
            self._rejected.clear()
            self._fail.clear()
            self.endpoints.clear()

    # --- what arrived --------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedWebhook]:
        """Accepted deliveries in arrival order (retries and duplicates included: dedupe on `id`)."""
        with self._cond:
            return list(self._received)

    @property
    def rejected(self) -> list[tuple[str, bytes, Mapping[str, str]]]:
        """Deliveries refused as (reason, body, headers): bad signatures, bodies that are not envelopes."""
        with self._cond:
            return list(self._rejected)

    def events(self, type: str | None = None) -> list[ReceivedWebhook]:
        """Accepted deliveries of one type (or all), first copy of each event id only, in arrival order."""
        seen: set[str] = set()
        out: list[ReceivedWebhook] = []
        for hook in self.received:
            if (type is None or hook.type == type) and hook.id not in seen:
                seen.add(hook.id)
                out.append(hook)
        return out

    def wait_for(self, type: str, timeout: float = 10.0, *,
                 where: Callable[[ReceivedWebhook], bool] | None = None) -> ReceivedWebhook:
        """The first accepted delivery of event `type` (matching `where`, if given), waiting up to `timeout`
        real seconds for it; raises `TimeoutError` listing what did arrive."""
        return self.wait_for_count(type, 1, timeout, where=where)[0]

    def wait_for_count(self, type: str, count: int, timeout: float = 10.0, *,
                       where: Callable[[ReceivedWebhook], bool] | None = None) -> list[ReceivedWebhook]:
        """The first `count` distinct events (by id) of `type`, waiting up to `timeout` real seconds."""
        deadline = _real_monotonic() + timeout

        def matching() -> list[ReceivedWebhook]:
            seen: set[str] = set()
            found = []
            for hook in self._received:
                if hook.type == type and hook.id not in seen and (where is None or where(hook)):
                    seen.add(hook.id)
                    found.append(hook)
            return found

        with self._cond:
            while len(found := matching()) < count:
                left = deadline - _real_monotonic()
                if left <= 0:
                    raise TimeoutError(self._timeout_message(type, count, len(found), timeout))
                self._cond.wait(min(left, 0.5))
            return found[:count]

    def _timeout_message(self, type: str, count: int, got: int, timeout: float) -> str:
        arrived = [hook.type for hook in self._received]
        text = (f"{got} of {count} {type!r} webhook(s) within {timeout:g} s at {self.url}; "
                f"accepted so far: {arrived or 'nothing'}")
        if self._rejected:
            text += f"; rejected: {[reason for reason, _, _ in self._rejected]}"
        if not self.endpoints:
            text += "; no endpoint was registered through this receiver (call register())"
        return text + " (control.deliveries() shows every attempt)"

    # --- the handler ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = MappingProxyType(dict(request.headers))
        with self._cond:
            if request.match_info["generation"] != str(self._generation):
                return web.Response(status=410, text="this receiver moved on")
            if not verify_signature(self.secret, body, headers, require="both"):
                self._reject("bad or missing signature", body, headers)
                return web.Response(status=401, text="bad signature")
            try:
                event = json.loads(body)
            except ValueError:
                event = None
            if not isinstance(event, dict) or not {"id", "type", "created_at"} <= event.keys():
                self._reject("not a webhook envelope", body, headers)
                return web.Response(status=400, text="not a webhook envelope")
            if self._fail:
                return web.Response(status=self._fail.pop(0), text="failing on purpose")
            self._received.append(ReceivedWebhook(body=body, headers=headers, event=event))
            self._cond.notify_all()
        return web.Response(status=200, text="ok")

    def _reject(self, reason: str, body: bytes, headers: Mapping[str, str]) -> None:
        self._rejected.append((reason, body, headers))
        self._cond.notify_all()
