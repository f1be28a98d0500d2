"""Webhooks from tests: `verify_signature` (the check a merchant backend should make on every monetize
delivery), `WebhookReceiver` (a local endpoint on its own loop thread that accepts only deliveries whose
signatures verify; `wait_for(type)` blocks until one arrives) and the `ReceivedWebhook`s it keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from aiohttp import web

from ..engine.structs import struct
from .control import ControlClient, parse_instant
from .loop import LoopThread, ThreadedServer, real_monotonic, serve


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


@struct(frozen=True)
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
        return parse_instant(str(self.event["created_at"]))

    @property
    def delivery_id(self) -> str | None:
        """`X-Monetize-Delivery-Id` (emulator only): matches `control.deliveries()` ids."""
        return next((v for k, v in self.headers.items() if k.lower() == "x-monetize-delivery-id"), None)


class WebhookReceiver(ThreadedServer):
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
        self._thread = LoopThread("paywall-webhook-receiver")
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
        self._runner, self.port = await serve(app, self.host, self.port)

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
        deadline = real_monotonic() + timeout

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
                left = deadline - real_monotonic()
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
