"""Webhook subscriptions over HTTP and signed deliveries to a local receiver, with the documented
headers and the retry schedule under clock moves; logs with their filters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from paywall_emulator.engine.openapi import spec_path
from paywall_emulator.products.paywalls_ai import signing
from paywall_emulator.products.paywalls_ai.domain import webhooks

from .http_support import MODEL, SHARED_KEY, Pw, error_of, link_in

SPEC = yaml.safe_load(spec_path("paywalls-ai.openapi.yaml").read_text())
DELIVERY = {"$ref": "#/components/schemas/Delivery", "components": SPEC["components"]}


class Inbox:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.seen: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    box = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with box.lock:
                box.seen.append((dict(self.headers), body))
                status = box.statuses.pop(0) if box.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def pw(emu: object) -> Pw:
    return Pw(emu.base_url)  # type: ignore[attr-defined]


def test_subscription_lifecycle(pw: Pw) -> None:
    made = pw.post("/v1/webhooks/subscriptions",
                   json={"url": "https://hooks.example/x", "events": ["paywall.balance.*"],
                         "customHeaders": {"X-Source": "t"}, "secret": "whsec_given_1"})
    assert made.status_code == 201
    sub = made.json()["subscription"]
    assert sub["secret"] == "whsec_given_1" and sub["secretSuffix"] == "iven_1" and sub["isActive"] is True
    fetched = pw.get(f"/v1/webhooks/subscriptions/{sub['id']}").json()["subscription"]
    assert "secret" not in fetched and fetched["events"] == ["paywall.balance.*"]
    gone = pw.request("DELETE", f"/v1/webhooks/subscriptions/{sub['id']}").json()["subscription"]
    assert gone["isActive"] is False
    assert pw.get("/v1/webhooks/subscriptions", params={"status": "active"}).json() == {"subscriptions": []}
    assert [s["id"] for s in pw.get("/v1/webhooks/subscriptions").json()["subscriptions"]] == [sub["id"]]
    missing = pw.get("/v1/webhooks/subscriptions/sub_nope")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    for bad in ({"url": "http://hooks.example/x", "events": ["*"]}, {"url": "https://h.example", "events": []},
                {"url": "https://h.example", "events": ["*", "paywall.updated"]},
                {"url": "https://h.example", "events": ["*"], "customHeaders": {f"X-{i}": "v" for i in range(11)}}):
        assert pw.post("/v1/webhooks/subscriptions", json=bad).status_code == 400
    assert len(pw.get("/v1/webhooks/subscriptions").json()["subscriptions"]) == 1


def test_signed_deliveries_and_retry_schedule_under_clock_moves(emu: Any, pw: Pw, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    emu.clock.freeze()
    secret = pw.post("/v1/webhooks/subscriptions",
                     json={"url": url, "events": ["paywall.balance.deposit.*"]}).json()["subscription"]["secret"]
    box.statuses.extend([500, 503])
    pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "3"})
    emu.clock.advance(seconds=0)  # runs the first attempt inline
    assert len(box.seen) == 1
    emu.clock.advance(seconds=29)
    assert len(box.seen) == 1  # the first retry waits at least 30 s
    emu.clock.advance(seconds=4)  # 33 s: past 30 s + at most 10 % jitter
    assert len(box.seen) == 2
    emu.clock.advance(seconds=59)
    assert len(box.seen) == 2
    emu.clock.advance(seconds=8)
    assert len(box.seen) == 3
    for n, (headers, body) in enumerate(box.seen, start=1):
        assert headers["X-Paywalls-Event"] == "paywall.balance.deposit.created@1.0"
        assert signing.verify(secret, body, headers["X-Paywalls-Signature"])
        parsed = json.loads(body)
        jsonschema.validate(parsed, DELIVERY)
        assert parsed["delivery"]["attempts"] == n and parsed["event"]["data"]["amount"] == "3"
        assert headers["X-Paywalls-Timestamp"] == parsed["delivery"]["updatedAt"]
    logs = pw.get("/v1/webhooks/logs").json()["logs"]
    assert [(row["status"], row["attempts"], row["lastStatusCode"]) for row in logs] == [("success", 3, 200)]
    assert pw.get("/v1/webhooks/logs", params={"status": "error"}).json() == {"logs": []}
    assert pw.get("/v1/webhooks/logs", params={"eventType": "paywall.balance.deposit.created"}).json()["logs"]
    assert pw.get("/v1/webhooks/logs", params={"limit": 101}).status_code == 400


def test_a_stop_status_ends_the_delivery(emu: Any, pw: Pw, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    emu.clock.freeze()
    pw.post("/v1/webhooks/subscriptions", json={"url": url, "events": ["*"]})
    box.statuses.append(422)
    pw.post("/v1/user/charge", json={"user": "alice", "amount": "0.1"})
    emu.clock.advance(hours=2)
    types = [json.loads(body)["event"]["type"] for _, body in box.seen]
    assert sorted(types) == ["paywall.balance.charge.completed", "paywall.balance.charge.created"]
    statuses = {row["eventType"]: row["status"] for row in pw.get("/v1/webhooks/logs").json()["logs"]}
    assert sorted(statuses.values()) == ["error", "success"]


def test_generated_secrets_and_ids_replay_after_a_reset(emu: Any, pw: Pw) -> None:
    def create() -> dict[str, Any]:
        made: dict[str, Any] = pw.post("/v1/webhooks/subscriptions",
                                       json={"url": "https://hooks.example/x", "events": ["*"]}).json()
        return made["subscription"]

    first = create()
    emu.control.reset()
    again = create()
    assert (again["id"], again["secret"]) == (first["id"], first["secret"])
    assert first["secret"].startswith("whsec_") and len(first["secret"]) == 38


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_one_clock_move_runs_all_eight_attempts_on_the_seeded_schedule(emu: Any, pw: Pw,
                                                                       inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    start = emu.clock.freeze()
    sub = pw.post("/v1/webhooks/subscriptions", json={"url": url, "events": ["paywall.balance.deposit.created"]})
    secret = sub.json()["subscription"]["secret"]
    box.statuses.extend([500] * 20)
    assert pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "1"}).status_code == 200
    emu.clock.advance(hours=3)  # one move: every attempt due in it runs, each stamped at its own instant
    assert len(box.seen) == 8
    delivery_id = json.loads(box.seen[0][1])["delivery"]["id"]
    seed = emu.call(lambda: emu.world.state("paywalls-ai").id_seed)
    expected = [start]
    for n in range(1, 8):
        expected.append(expected[-1] + webhooks.retry_delay(seed, delivery_id, n))
    stamps = [_instant(headers["X-Paywalls-Timestamp"]) for headers, _ in box.seen]
    assert all(abs(got - want) < timedelta(milliseconds=1) for got, want in zip(stamps, expected, strict=True))
    for n, (headers, body) in enumerate(box.seen, start=1):
        assert signing.verify(secret, body, headers["X-Paywalls-Signature"])
        assert json.loads(body)["delivery"]["attempts"] == n
    emu.clock.advance(days=2)
    assert len(box.seen) == 8  # no ninth attempt
    (log,) = pw.get("/v1/webhooks/logs").json()["logs"]
    assert (log["status"], log["attempts"], log["lastStatusCode"], log["nextAttemptAt"]) == ("error", 8, 500, None)
    sub_after = pw.get(f"/v1/webhooks/subscriptions/{sub.json()['subscription']['id']}").json()["subscription"]
    assert sub_after["consecutiveFailures"] == 8 and sub_after["lastDeliveredAt"] is None


def test_deactivating_a_subscription_gives_up_its_retries(emu: Any, pw: Pw, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    emu.clock.freeze()
    sub_id = pw.post("/v1/webhooks/subscriptions", json={"url": url, "events": ["*"]}).json()["subscription"]["id"]
    box.statuses.extend([503] * 8)
    pw.get("/v1/user/balance/topup", params={"user": "bob"})
    emu.clock.advance(seconds=0)
    assert len(box.seen) == 1
    assert pw.request("DELETE", f"/v1/webhooks/subscriptions/{sub_id}").status_code == 200
    emu.clock.advance(hours=3)
    assert len(box.seen) == 1
    (log,) = pw.get("/v1/webhooks/logs").json()["logs"]
    assert (log["status"], log["attempts"], log["nextAttemptAt"]) == ("error", 1, None)
    pw.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "1"})
    emu.clock.advance(seconds=0)
    assert len(box.seen) == 1 and len(pw.get("/v1/webhooks/logs").json()["logs"]) == 1  # nothing new for it


def test_every_emitted_event_type_is_delivered_signed_at_the_emulator_clock(emu: Any, inbox: tuple[Inbox, str]) -> None:
    """Drive every flow once (both modes) with a `*` subscription per paywall: each event type of the spec's
    `Event.type` reaches the receiver, signed, stamped with the frozen emulator clock."""
    box, url = inbox
    at = emu.clock.set("2031-05-06T07:08:09Z")
    demo, shared = Pw(emu.base_url), Pw(emu.base_url, SHARED_KEY)
    secrets = {}
    for client in (demo, shared):
        made = client.post("/v1/webhooks/subscriptions", json={"url": url, "events": ["*"]}).json()["subscription"]
        secrets[made["paywallId"]] = made["secret"]
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    demo.post("/v1/user/balance/deposit", json={"user": "bob", "amount": "0.5"})  # deposit.created
    demo.post("/v1/user/charge", json={"user": "bob", "amount": "0.25"})  # charge.created + completed
    demo.post("/v1/chat/completions", json={**chat, "user": "bob"})  # usage.charge.created
    demo.post("/v1/user/charge", json={"user": "bob", "amount": "9"})  # charge.failed, depleted, topup link
    blocked = demo.post("/v1/chat/completions", json={**chat, "user": "broke"}).json()  # request.blocked
    page = link_in(blocked["choices"][0]["message"]["content"])
    assert requests.post(page, data={"action": "pay", "amount": "1"}, timeout=10).status_code == 200  # checkout
    approve = shared.get("/v1/user/connect", params={"user": "dave"}).json()["url"]  # authorization.requested
    assert requests.post(approve, data={"action": "approve"}, timeout=10).status_code == 200  # completed
    assert shared.get("/v1/user/disconnect", params={"user": "dave"}).json()["success"] is True  # revoked
    decline = shared.get("/v1/user/connect", params={"user": "erin"}).json()["url"]
    assert requests.post(decline, data={"action": "decline"}, timeout=10).status_code == 200  # declined
    emu.clock.advance(seconds=0)
    seen = set()
    for headers, body in box.seen:
        event = json.loads(body)["event"]
        assert signing.verify(secrets[event["paywallId"]], body, headers["X-Paywalls-Signature"])
        assert headers["X-Paywalls-Event"] == f"{event['type']}@1.0"
        assert _instant(event["createdAt"]) == at and _instant(headers["X-Paywalls-Timestamp"]) == at
        seen.add(event["type"])
    assert seen == set(SPEC["components"]["schemas"]["Event"]["properties"]["type"]["enum"])
    assert len(box.seen) == len({json.loads(body)["event"]["id"] for _, body in box.seen})  # each event once
