"""Webhook delivery: endpoints, signing, the envelope against the spec's `webhooks:` schemas, retries
on the emulator clock, per-subject ordering, receiver policies, redelivery and the delivery log.

Receivers are local aiohttp servers (127.0.0.1, port 0) on their own loop in a thread; waiting is
bounded (`Receiver.wait_for`), never a timing assertion.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from aiohttp import web
from jsonschema import Draft202012Validator

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.openapi import inline_refs, load_document, spec_path
from paywall_emulator.products.monetize.domain import events as domain_events
from paywall_emulator.products.monetize.models import Refund
from paywall_emulator.products.monetize.state import store_of
from paywall_emulator.testing import ControlClient, ThreadedEmulator, verify_signature
from tests.worlds import monetize_section

from .conftest import ACME_KEY, ALICE, STRIPE_PW, Api, error_of

ALICE_SUB = "sub_seedAlicePro000000000001"
ERIN_SUB = "sub_seedErinPro0000000000001"
FRANK_PAYMENT = "pi_seedFrankLifetime0000001"
SECRET = "whsec_test_secret"

SPEC = load_document(spec_path("monetize.openapi.yaml"))


def _validator(event_type: str) -> Draft202012Validator:
    schema = SPEC["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator(inline_refs(schema, SPEC), format_checker=Draft202012Validator.FORMAT_CHECKER)


VALIDATORS = {t: _validator(t) for t in SPEC["webhooks"]}
HEADER_VALIDATORS = {
    p["name"].lower(): Draft202012Validator(p["schema"])
    for p in (inline_refs(p, SPEC) for p in SPEC["webhooks"]["payment.completed"]["post"]["parameters"])
}


# --- a local receiver ------------------------------------------------------------------------


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]  # lower-cased names
    attempt: int  # 1 for the first request carrying this event id, 2 for the next, ...

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event_id(self) -> str:
        return str(self.event["id"])


Answer = Callable[[Received], int]


class Receiver:
    """A webhook receiver on 127.0.0.1 (port 0), served from its own event loop in a thread.

    `answer(received)` picks the status; `hold(received)` True keeps that request open until `release()`.
    Every request is checked like a merchant backend would (both signatures with `secret`) and against
    the spec's `webhooks:` schemas; leaving the `with` block fails the test if any was wrong.
    """

    def __init__(self, answer: Answer | None = None, hold: Callable[[Received], bool] | None = None, *,
                 secret: str = SECRET) -> None:
        self.answer: Answer = answer or (lambda r: 200)
        self.hold = hold or (lambda r: False)
        self.secret = secret
        self.problems: list[str] = []
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="webhook-receiver", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def __enter__(self) -> Receiver:
        self._thread.start()
        assert self._ready.wait(15), "the receiver did not start"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        assert not self.problems, self.problems

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._start())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        assert self._release is not None and self._runner is not None
        self._release.set()
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._cond:
            event_id = json.loads(body)["id"]
            seen = sum(1 for r in self.received if r.event_id == event_id)
            received = Received(body=body, headers=headers, attempt=seen + 1)
            try:
                check_delivery(received, self.secret)
            except Exception as exc:  # reported when the receiver closes, in the test's thread
                self.problems.append(f"{event_id}: {exc!r}")
            self.received.append(received)
            self._cond.notify_all()
        if self.hold(received):
            assert self._release is not None
            await self._release.wait()
        return web.Response(status=self.answer(received))

    def release(self) -> None:
        assert self._loop is not None and self._release is not None
        self._loop.call_soon_threadsafe(self._release.set)

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        with self._cond:
            reached = self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            assert reached, f"expected {count} deliveries, got {len(self.received)}"
            return list(self.received)

    def ids(self) -> list[str]:
        with self._cond:
            return [r.event_id for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


# --- helpers ---------------------------------------------------------------------------------


def register(control: ControlClient, url: str, **extra: Any) -> dict[str, Any]:
    """Register an endpoint (secret `SECRET` unless given)."""
    endpoint: dict[str, Any] = control.request("POST", "/webhooks/endpoints", {"url": url, "secret": SECRET, **extra})
    return endpoint


def deliveries(control: ControlClient, **filters: str) -> list[dict[str, Any]]:
    query = f"?{urlencode(filters)}" if filters else ""
    found: list[dict[str, Any]] = control.request("GET", f"/webhooks/deliveries{query}")["deliveries"]
    return found


def emit(emu: ThreadedEmulator, *specs: tuple[str, str]) -> list[str]:
    """Record events atomically on the emulator's loop: (type, subscription or payment id) each."""

    def run() -> list[str]:
        store, now = store_of(emu.world), emu.world.now()
        ids = []
        for event_type, ref in specs:
            sub = store.subscriptions.get(ref)
            payment = store.payments.get(ref)
            if sub is None and payment is None:
                raise KeyError(ref)
            owner = sub or payment
            assert owner is not None
            refund = None
            if event_type == "refund.created":
                assert payment is not None
                refund = Refund(id="re_test1", payment_id=payment.id, amount=payment.amount,
                                currency=payment.currency, status="succeeded", reason=None, created=now)
            event = domain_events.emit(store, now, event_type, paywall_id=owner.paywall_id, user_id=owner.user_id,
                                       price_id=owner.price_id, subscription=sub, payment=payment, refund=refund)
            ids.append(event.id)
        return ids

    result: list[str] = emu.call(run)
    return result


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_delivery(received: Received, secret: str) -> dict[str, Any]:
    """Validate one delivery like a merchant backend would, plus the spec's schemas."""
    # Recipe 1 (headless guide): X-Signature is the hex HMAC-SHA256 of the raw body.
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["x-signature"], expected)
    # Recipe 2 (webhooks docs page): X-Monetize-Signature is "sha256=" + the same hex digest.
    scheme, _, digest = received.headers["x-monetize-signature"].partition("=")
    assert scheme == "sha256" and hmac.compare_digest(digest, expected)
    assert verify_signature(secret, received.body, received.headers)
    assert not verify_signature(secret + "x", received.body, received.headers)
    assert received.headers["content-type"] == "application/json"
    for name, validator in HEADER_VALIDATORS.items():
        validator.validate(received.headers[name])
    event = received.event
    VALIDATORS[event["type"]].validate(event)
    assert received.headers["x-monetize-event-id"] == event["id"]
    assert received.headers["x-monetize-event-type"] == event["type"]
    return event


# --- endpoints -------------------------------------------------------------------------------


def test_endpoints_are_registered_listed_and_deleted(emu: ThreadedEmulator, api: Api) -> None:
    control = emu.control
    resp = api.post("/_emulator/webhooks/endpoints",
                    json={"url": "http://127.0.0.1:9/hooks", "events": ["payment.completed"]})
    assert resp.status_code == 201
    created = resp.json()
    assert created["owner_id"] == "own_acme" and created["enabled"] is True
    assert created["secret"].startswith("whsec_") and created["events"] == ["payment.completed"]
    assert created["policy"] == {"duplicate": False, "out_of_order": False, "delay_seconds": 0}
    rival = register(control, "https://rival.example/hooks", secret="s3", owner_id="own_rival")
    assert rival["owner_id"] == "own_rival" and rival["secret"] == "s3" and rival["events"] is None

    listed = control.request("GET", "/webhooks/endpoints")["endpoints"]
    assert [e["id"] for e in listed] == [created["id"], rival["id"]]

    resp = api.request("DELETE", f"/_emulator/webhooks/endpoints/{created['id']}")
    assert resp.status_code == 204
    assert [e["id"] for e in control.request("GET", "/webhooks/endpoints")["endpoints"]] == [rival["id"]]
    resp = api.request("DELETE", f"/_emulator/webhooks/endpoints/{created['id']}")
    assert error_of(resp) == (404, "not_found")


@pytest.mark.parametrize("body", [
    {"url": "not a url"},
    {"url": "ftp://example.com/x"},
    {"url": "http://[::1/x"},
    {"url": "http://exa mple.com/x"},
    {"url": "http://127.0.0.1:99999/x"},
    {"url": "http:///x"},
    {"url": "http://127.0.0.1/x", "events": ["payment.exploded"]},
    {"url": "http://127.0.0.1/x", "events": []},
    {"url": "http://127.0.0.1/x", "secret": ""},
    {"url": "http://127.0.0.1/x", "surprise": True},
    {},
])
def test_bad_endpoint_is_refused(api: Api, body: dict[str, Any]) -> None:
    resp = api.post("/_emulator/webhooks/endpoints", json=body)
    assert error_of(resp) == (400, "invalid_request")
    assert api.get("/_emulator/webhooks/endpoints").json() == {"endpoints": []}


def test_unknown_owner_or_endpoint_is_404(api: Api) -> None:
    resp = api.post("/_emulator/webhooks/endpoints", json={"url": "http://127.0.0.1/x", "owner_id": "own_nobody"})
    assert error_of(resp) == (404, "not_found")
    resp = api.post("/_emulator/webhooks/endpoints/we_nope/policy", json={"duplicate": True})
    assert error_of(resp) == (404, "not_found")
    resp = api.post("/_emulator/webhooks/deliveries/whd_nope/redeliver")
    assert error_of(resp) == (404, "not_found")


def test_policy_body_is_checked(emu: ThreadedEmulator, api: Api) -> None:
    endpoint = register(emu.control, "http://127.0.0.1:9/hooks")
    for body in ({"fail_first": 2}, {"delay_seconds": -1}, {"duplicate": "yes"}):
        resp = api.post(f"/_emulator/webhooks/endpoints/{endpoint['id']}/policy", json=body)
        assert error_of(resp) == (400, "invalid_request"), body
    resp = api.post(f"/_emulator/webhooks/endpoints/{endpoint['id']}/policy", json={"duplicate": True})
    assert resp.status_code == 200
    assert resp.json()["policy"] == {"duplicate": True, "out_of_order": False, "delay_seconds": 0}
    resp = api.post(f"/_emulator/webhooks/endpoints/{endpoint['id']}/policy", json={})
    assert resp.json()["policy"] == {"duplicate": False, "out_of_order": False, "delay_seconds": 0}


def test_reset_drops_registered_endpoints_and_restores_seeded_ones(tmp_path: Path) -> None:
    with_hooks = json.loads(json.dumps(monetize_section(), default=str))
    with_hooks["owners"][0]["webhooks"] = [{"url": "http://127.0.0.1:9/seeded", "secret": "seeded-secret",
                                            "events": ["subscription.updated"]}]
    world = tmp_path / "world.yaml"
    world.write_text(yaml.safe_dump({"monetize": with_hooks}), encoding="utf-8")
    with ThreadedEmulator(EmulatorConfig(world=world)) as emu:
        control = emu.control
        register(control, "http://127.0.0.1:9/api")
        assert len(control.request("GET", "/webhooks/endpoints")["endpoints"]) == 2
        control.reset()
        listed = control.request("GET", "/webhooks/endpoints")["endpoints"]
        assert [(e["url"], e["secret"], e["events"]) for e in listed] == [
            ("http://127.0.0.1:9/seeded", "seeded-secret", ["subscription.updated"])]
        control.load_world({"monetize": monetize_section()})  # a loaded world brings its own endpoints: none
        assert control.request("GET", "/webhooks/endpoints")["endpoints"] == []


# --- the event log and delivery ---------------------------------------------------------------


def test_events_are_listed_without_any_endpoint(emu: ThreadedEmulator, api: Api) -> None:
    resp = api.post("/api/paywall/cancel-subscription", key=ACME_KEY, json={
        "paywallId": STRIPE_PW, "email": "alice@example.com", "subscriptionId": ALICE_SUB,
        "cancellationReason": "too_expensive"})
    assert resp.status_code == 200
    emit(emu, ("payment.completed", FRANK_PAYMENT))
    listed = emu.control.request("GET", "/events")["events"]
    assert [e["type"] for e in listed] == ["subscription.updated", "payment.completed"]
    for envelope in listed:
        VALIDATORS[envelope["type"]].validate(envelope)
    assert listed[0]["data"]["subscription"]["cancel_at_period_end"] is True
    only = emu.control.request("GET", "/events?type=payment.completed")["events"]
    assert [e["id"] for e in only] == [listed[1]["id"]]
    assert deliveries(emu.control) == []
    assert error_of(api.get("/_emulator/events?type=nope")) == (400, "invalid_request")


def test_delivery_is_signed_and_matches_the_spec(emu: ThreadedEmulator, api: Api, receiver: Receiver) -> None:
    endpoint = register(emu.control, receiver.url, secret=SECRET)
    resp = api.post("/api/paywall/cancel-subscription", key=ACME_KEY, json={
        "paywallId": STRIPE_PW, "email": "alice@example.com", "subscriptionId": ALICE_SUB,
        "cancellationReason": "too_expensive"})
    assert resp.status_code == 200
    [got] = receiver.wait_for(1)
    event = check_delivery(got, SECRET)
    [listed] = emu.control.request("GET", "/events")["events"]
    assert event == listed and event["type"] == "subscription.updated"
    assert event["data"]["user"]["id"] == ALICE and event["data"]["subscription"]["id"] == ALICE_SUB

    [delivery] = deliveries(emu.control)
    assert delivery["event_id"] == event["id"] and delivery["endpoint_id"] == endpoint["id"]
    assert delivery["url"] == receiver.url and delivery["status"] in ("pending", "succeeded")
    final = _settled(emu.control, delivery["id"])
    assert final["status"] == "succeeded" and final["next_attempt_at"] is None
    [attempt] = final["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["duration_ms"] >= 0


def test_every_event_type_is_delivered_valid(emu: ThreadedEmulator, receiver: Receiver) -> None:
    register(emu.control, receiver.url, secret=SECRET)
    emit(emu, ("payment.completed", FRANK_PAYMENT), ("subscription.created", ALICE_SUB),
         ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ERIN_SUB),
         ("refund.created", FRANK_PAYMENT))
    got = receiver.wait_for(5)
    assert sorted(check_delivery(r, SECRET)["type"] for r in got) == sorted(VALIDATORS)


def test_subscribed_types_filter_and_delivery_log_filters(emu: ThreadedEmulator, receiver: Receiver) -> None:
    control = emu.control
    payments_only = register(control, receiver.url, events=["payment.completed"])
    everything = register(control, receiver.url)
    register(control, receiver.url, owner_id="own_rival")  # another owner's events only
    sub_event, pay_event = emit(emu, ("subscription.updated", ALICE_SUB), ("payment.completed", FRANK_PAYMENT))
    receiver.wait_for(3)

    log = deliveries(control)
    assert sorted((d["endpoint_id"], d["event_id"]) for d in log) == sorted([
        (payments_only["id"], pay_event), (everything["id"], sub_event), (everything["id"], pay_event)])
    assert {d["event_id"] for d in deliveries(control, type="payment.completed")} == {pay_event}
    assert {d["event_id"] for d in deliveries(control, endpoint_id=payments_only["id"])} == {pay_event}
    assert {d["endpoint_id"] for d in deliveries(control, event_id=sub_event)} == {everything["id"]}
    for d in log:
        _settled(control, d["id"])
    assert len(deliveries(control, status="succeeded")) == 3
    assert deliveries(control, status="failed") == []
    resp = Api(emu.base_url).get("/_emulator/webhooks/deliveries?status=lost")
    assert error_of(resp) == (400, "invalid_request")


def _settled(control: ControlClient, delivery_id: str) -> dict[str, Any]:
    """The delivery once no attempt is in flight for it (bounded wait on the delivery log)."""
    for _ in range(400):
        [found] = [d for d in deliveries(control) if d["id"] == delivery_id]
        if found["status"] != "pending" or found["attempts"]:
            return found
        threading.Event().wait(0.05)
    raise AssertionError(f"delivery {delivery_id} never settled")


# --- retries on the emulator clock ------------------------------------------------------------


def test_failing_receiver_gets_every_event_after_retries(emu: ThreadedEmulator) -> None:
    # The first three attempts of every event fail (500, 503, 404), the fourth is accepted.
    statuses = {1: 500, 2: 503, 3: 404}
    with Receiver(answer=lambda r: statuses.get(r.attempt, 200)) as receiver:
        register(emu.control, receiver.url, secret=SECRET)
        first, second = emit(emu, ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ERIN_SUB))
        emu.control.clock.advance(days=3)  # one call drives the whole schedule
        got = receiver.wait_for(8)
        assert sorted(receiver.ids()) == sorted([first] * 4 + [second] * 4)
        for r in got:
            check_delivery(r, SECRET)
    for delivery in deliveries(emu.control):
        assert delivery["status"] == "succeeded" and delivery["next_attempt_at"] is None
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 404, 200]
        start = when(delivery["attempts"][0]["at"])
        offsets = [when(a["at"]) - start for a in delivery["attempts"]]
        assert offsets == [timedelta(0), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30)]


class RedirectingReceiver(Receiver):
    """A receiver whose non-2xx answers redirect to itself (`Location`: its own URL)."""

    async def _handle(self, request: web.Request) -> web.Response:
        resp = await super()._handle(request)
        if 300 <= resp.status < 400:
            resp.headers["Location"] = self.url
        return resp


def test_a_redirect_is_a_failed_attempt_not_followed(emu: ThreadedEmulator) -> None:
    """The emulator's choice (spec, webhooks' **Delivery**): a 3xx is not followed, even to the same URL
    with the method kept (308); it is a failed attempt, retried on the schedule."""
    with RedirectingReceiver(answer=lambda r: 308 if r.attempt == 1 else 200) as receiver:
        register(emu.control, receiver.url, secret=SECRET)
        [event_id] = emit(emu, ("subscription.updated", ALICE_SUB))
        emu.control.clock.advance(minutes=2)
        receiver.wait_for(2)
        assert receiver.ids() == [event_id, event_id]
    [delivery] = deliveries(emu.control)
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [308, 200]
    start = when(delivery["attempts"][0]["at"])
    assert [when(a["at"]) - start for a in delivery["attempts"]] == [timedelta(0), timedelta(minutes=1)]


def test_gives_up_after_the_schedule_then_redelivers(emu: ThreadedEmulator, api: Api) -> None:
    accept = threading.Event()
    with Receiver(answer=lambda r: 200 if accept.is_set() else 500) as receiver:
        register(emu.control, receiver.url, secret=SECRET)
        [event_id] = emit(emu, ("subscription.updated", ALICE_SUB))
        emu.control.clock.advance(days=2)
        [delivery] = deliveries(emu.control, status="failed")
        assert delivery["event_id"] == event_id and delivery["next_attempt_at"] is None
        assert [a["status_code"] for a in delivery["attempts"]] == [500] * 6
        start = when(delivery["attempts"][0]["at"])
        assert [when(a["at"]) - start for a in delivery["attempts"]] == [
            timedelta(0), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=6)]
        assert receiver.ids() == [event_id] * 6

        accept.set()
        resp = api.post(f"/_emulator/webhooks/deliveries/{delivery['id']}/redeliver")
        assert resp.status_code == 202
        queued = resp.json()
        assert queued["status"] == "pending" and queued["next_attempt_at"] is not None
        got = receiver.wait_for(7)
        assert check_delivery(got[-1], SECRET)["id"] == event_id
        assert got[-1].body == got[0].body  # the exact same bytes, every time
    final = _settled_status(emu.control, delivery["id"], "succeeded")
    assert [a["status_code"] for a in final["attempts"]] == [500] * 6 + [200]


def _settled_status(control: ControlClient, delivery_id: str, status: str) -> dict[str, Any]:
    for _ in range(400):
        [found] = [d for d in deliveries(control) if d["id"] == delivery_id]
        if found["status"] == status:
            return found
        threading.Event().wait(0.05)
    raise AssertionError(f"delivery {delivery_id} never became {status}")


def test_connection_errors_are_recorded_and_retried(emu: ThreadedEmulator) -> None:
    with Receiver() as gone:
        url = gone.url
    register(emu.control, url)  # nothing listens there any more
    emit(emu, ("subscription.updated", ALICE_SUB))
    emu.control.clock.advance(seconds=600)
    [delivery] = deliveries(emu.control)
    assert delivery["status"] == "pending" and len(delivery["attempts"]) == 3  # +0, +1 min, +5 min
    for attempt in delivery["attempts"]:
        assert attempt["status_code"] is None and attempt["error"].startswith("connection error")
    assert when(delivery["next_attempt_at"]) - when(delivery["attempts"][0]["at"]) == timedelta(minutes=30)


def test_deleting_an_endpoint_gives_up_its_pending_deliveries(emu: ThreadedEmulator, api: Api) -> None:
    with Receiver(answer=lambda r: 500) as receiver:
        endpoint = register(emu.control, receiver.url)
        emit(emu, ("subscription.updated", ALICE_SUB))
        receiver.wait_for(1)
        [delivery] = deliveries(emu.control)
        _settled(emu.control, delivery["id"])
        assert api.request("DELETE", f"/_emulator/webhooks/endpoints/{endpoint['id']}").status_code == 204
    [delivery] = deliveries(emu.control)
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    resp = api.post(f"/_emulator/webhooks/deliveries/{delivery['id']}/redeliver")
    assert error_of(resp) == (409, "invalid_state")


# --- ordering and concurrency ----------------------------------------------------------------


def test_one_subscription_is_delivered_in_creation_order(emu: ThreadedEmulator) -> None:
    # The first attempt of the first event fails: the next event of the same subscription waits for
    # it, while another subscription's event goes out at once.
    with Receiver(answer=lambda r: 500 if r.event_id == first and r.attempt == 1 else 200) as receiver:
        register(emu.control, receiver.url)
        first, second, other = emit(emu, ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ALICE_SUB),
                                    ("subscription.updated", ERIN_SUB))
        receiver.wait_for(2)
        assert sorted(receiver.ids()) == sorted([first, other])
        [waiting] = deliveries(emu.control, event_id=second)
        assert waiting["status"] == "pending" and waiting["attempts"] == []

        emu.control.clock.advance(seconds=120)
        got = receiver.wait_for(4)
    alice = [r.event_id for r in got if r.event["data"]["subscription"]["id"] == ALICE_SUB]
    assert alice == [first, first, second]
    [after] = deliveries(emu.control, event_id=second)
    [before] = deliveries(emu.control, event_id=first)
    assert after["status"] == "succeeded"
    assert when(after["attempts"][0]["at"]) >= when(before["attempts"][-1]["at"])


# --- receiver-testing policies ----------------------------------------------------------------


def test_duplicate_policy_sends_each_event_twice(emu: ThreadedEmulator, receiver: Receiver) -> None:
    endpoint = register(emu.control, receiver.url, secret=SECRET)
    emu.control.request("POST", f"/webhooks/endpoints/{endpoint['id']}/policy", {"duplicate": True})
    [event_id] = emit(emu, ("subscription.updated", ALICE_SUB))
    first, second = receiver.wait_for(2)
    assert first.event_id == second.event_id == event_id and first.body == second.body
    check_delivery(second, SECRET)
    original, copy = deliveries(emu.control, event_id=event_id)
    assert copy["duplicate_of"] == original["id"] and original["duplicate_of"] is None


def test_out_of_order_policy_swaps_adjacent_deliveries(emu: ThreadedEmulator, receiver: Receiver) -> None:
    endpoint = register(emu.control, receiver.url)
    emu.control.request("POST", f"/webhooks/endpoints/{endpoint['id']}/policy", {"out_of_order": True})
    first, second = emit(emu, ("subscription.updated", ALICE_SUB), ("subscription.cancelled", ALICE_SUB))
    receiver.wait_for(2)
    assert receiver.ids() == [second, first]

    # A lone event waits a short swap window (emulator time) for a partner, then goes out anyway.
    [lone] = emit(emu, ("subscription.updated", ERIN_SUB))
    [held] = deliveries(emu.control, event_id=lone)
    assert held["attempts"] == []
    emu.control.clock.advance(seconds=10)
    receiver.wait_for(3)
    assert receiver.ids()[-1] == lone
    [sent] = deliveries(emu.control, event_id=lone)
    assert when(sent["attempts"][0]["at"]) - when(sent["created_at"]) >= timedelta(seconds=5)


def test_delay_policy_holds_deliveries_on_the_emulator_clock(emu: ThreadedEmulator, receiver: Receiver) -> None:
    endpoint = register(emu.control, receiver.url)
    emu.control.request("POST", f"/webhooks/endpoints/{endpoint['id']}/policy", {"delay_seconds": 3600})
    [event_id] = emit(emu, ("subscription.updated", ALICE_SUB))
    [held] = deliveries(emu.control)
    assert held["attempts"] == [] and when(held["next_attempt_at"]) - when(held["created_at"]) == timedelta(hours=1)
    emu.control.clock.advance(seconds=3600)
    [got] = receiver.wait_for(1)
    assert got.event_id == event_id
    [sent] = deliveries(emu.control)
    assert sent["status"] == "succeeded"
    assert when(sent["attempts"][0]["at"]) - when(sent["created_at"]) == timedelta(hours=1)
