"""The `/_emulator` control API from tests, over plain HTTP (stdlib only, so it works against
`paywall-emulator serve` too): `ControlClient`, the `ControlError` it raises, and `PaywallClock`, the one
way tests read and move the emulator's clock (`control.clock`, `emu.clock`, the `paywall_clock` fixture).
"""

from __future__ import annotations

import functools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.structs import struct


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


def parse_instant(value: str) -> datetime:
    """An instant as the control API and webhooks write it (`...Z`), aware and in UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@struct
class ControlClient:
    """A small client of `/_emulator` (stdlib only). Errors raise `ControlError`.

    Methods return the control API's JSON (see `spec/control.openapi.yaml`); list endpoints return
    the list itself (`deliveries()` is the `deliveries` array).
    """

    base_url: str
    timeout: float = 30.0
    token: str | None = None  # the emulator's control token (serve --control-token), if it has one
    page_size: int = 10_000  # rows asked per request when reading a paged list (events, deliveries)

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
        """The state dump's first page: up to 10,000 rows of every table (for inspection; row shapes are
        not a stable API; `request("GET", "/state", query={"offset": ...})` pages on)."""
        return self.request("GET", "/state")

    @property
    def clock(self) -> PaywallClock:
        """The emulator's clock (`control.clock.advance(days=1)`, `control.clock.now()`)."""
        return PaywallClock(self)

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
        return self._all("/webhooks/deliveries", "deliveries", query)

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        """Send a delivery again now."""
        return dict(self.request("POST", f"/webhooks/deliveries/{self._quote(delivery_id)}/redeliver"))

    def events(self, *, type: str | None = None) -> list[dict[str, Any]]:
        """The event log as webhook envelopes, oldest first, whether or not any endpoint is registered."""
        return self._all("/events", "events", {"type": type})

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

    def _all(self, path: str, key: str, query: Mapping[str, str | None]) -> list[dict[str, Any]]:
        """Every row of a paged list, page after page."""
        rows: list[dict[str, Any]] = []
        while True:
            answer = self.request("GET", path, query={**query, "offset": str(len(rows)), "limit": str(self.page_size)})
            rows.extend(answer[key])
            if not answer["page"]["more"]:
                return rows

    def _act(self, path: str, extra: Mapping[str, Any]) -> Any:
        return self.request("POST", path, dict(extra) if extra else None)

    @staticmethod
    def _quote(segment: str) -> str:
        return urllib.parse.quote(segment, safe="")


class PaywallClock:
    """The emulator's clock through the control API: `control.clock`, `emu.clock`, the `paywall_clock`
    fixture. The one clock API for tests (the control client has no other clock methods).

    Renewals, trial ends, daily top-ups and webhook retries follow this clock. It only moves forward.
    """

    def __init__(self, control: ControlClient) -> None:
        self.control = control

    def now(self) -> datetime:
        """The emulator's current instant (aware, UTC)."""
        return parse_instant(str(self.control.request("GET", "/clock")["now"]))

    @property
    def frozen(self) -> bool:
        """True while the clock moves only through this API (not with wall time)."""
        return bool(self.control.request("GET", "/clock")["frozen"])

    def set(self, when: datetime | str, *, frozen: bool = True) -> datetime:
        """Move forward to `when` (ISO string or datetime; naive = UTC; not earlier than now) and stay there
        (or run on with `frozen=False`); whatever falls due on the way runs first. Returns the new instant."""
        answer = self.control.request("POST", "/clock", {"now": _instant(when), "frozen": frozen})
        return parse_instant(str(answer["now"]))

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
        body = {"seconds": seconds + extra + 60 * minutes + 3600 * hours, "days": days}
        return dict(self.control.request("POST", "/clock/advance", body))
