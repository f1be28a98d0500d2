"""Webhook subscriptions over HTTP and signed deliveries to a local receiver, with the documented
headers and the retry schedule under clock moves; logs with their filters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
import yaml

from paywall_emulator.engine.openapi import spec_path
from paywall_emulator.products.paywalls_ai import signing

from .http_support import Pw, error_of

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
