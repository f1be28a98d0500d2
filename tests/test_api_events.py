"""POST /api/v1/paywall/{id}/events: the SDK's analytics batches, by fetch (JSON, identity in
headers) or sendBeacon (JSON text as text/plain, identity in the body); 204, and 413 above 100."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paywall_emulator.testing import ControlClient

from .conftest import ACME_KEY, RIVAL_KEY, STRIPE_PW, Api, error_of

PATH = f"/api/v1/paywall/{STRIPE_PW}/events"


def events(n: int) -> list[dict[str, Any]]:
    return [{"type": "paywall_viewed", "ts": 1767225600000 + i, "props": {"i": i}} for i in range(n)]


def stored(control: ControlClient) -> list[dict[str, Any]]:
    return list(control.state()["monetize"]["analytics"])


def test_fetch_batch_is_204_and_stored(api: Api, control: ControlClient) -> None:
    resp = api.post(PATH, json={"events": [*events(2), {"type": "paywall_closed", "ts": 1}]},
                    headers={"X-Visitor-Id": "vis-1", "X-User-Id": "u-1", "X-SDK-Version": "3.5.1"})
    assert resp.status_code == 204 and resp.content == b""
    rows = stored(control)
    assert [r["type"] for r in rows] == ["paywall_viewed", "paywall_viewed", "paywall_closed"]
    assert {(r["visitor_id"], r["user_id"], r["paywall_id"]) for r in rows} == {("vis-1", "u-1", STRIPE_PW)}
    assert rows[1]["props"] == {"i": 1} and rows[2]["props"] is None


def test_beacon_batch_as_text_plain(api: Api, control: ControlClient) -> None:
    beacon = {"events": events(3), "visitor_id": "vis-b", "user_id": None, "sdk_version": "3.5.1",
              "paywall_id": STRIPE_PW, "capabilities": ""}
    resp = api.post(PATH, data=json.dumps(beacon).encode(), headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert resp.status_code == 204
    rows = stored(control)
    assert len(rows) == 3 and {r["visitor_id"] for r in rows} == {"vis-b"}


def test_one_hundred_events_pass(api: Api, control: ControlClient) -> None:
    assert api.post(PATH, json={"events": events(100)}).status_code == 204
    assert len(stored(control)) == 100


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_more_than_one_hundred_is_413_and_stores_nothing(api: Api, control: ControlClient,
                                                          content_type: str) -> None:
    before = control.state()
    resp = api.post(PATH, data=json.dumps({"events": events(101)}), headers={"Content-Type": content_type})
    assert error_of(resp) == (413, "too_many_events")
    assert control.state() == before


def test_empty_batch_is_accepted(api: Api, control: ControlClient) -> None:
    assert api.post(PATH, json={"events": []}).status_code == 204
    assert stored(control) == []


@pytest.mark.parametrize(("data", "content_type", "code"), [
    (b"{not json", "application/json", "invalid_json"),
    (b"{not json", "text/plain", "invalid_json"),
    (b"\xff\xfe{}", "text/plain", "invalid_json"),
    (b'{"events": [{"type": "x"}]}', "application/json", "invalid_request"),  # no ts
    (b'{"events": "many"}', "application/json", "invalid_request"),
    (b'{"visitor_id": "v"}', "application/json", "invalid_request"),  # no events
    (b"[]", "application/json", "invalid_request"),
    (b'{"events": []}', "application/xml", "unsupported_media_type"),
])
def test_malformed_batches_are_400(api: Api, control: ControlClient, data: bytes, content_type: str,
                                   code: str) -> None:
    before = control.state()
    assert error_of(api.post(PATH, data=data, headers={"Content-Type": content_type})) == (400, code)
    assert control.state() == before


def test_credentials_are_ignored_and_the_paywall_must_exist(api: Api) -> None:
    for key in (ACME_KEY, RIVAL_KEY, "sk_bogus"):
        assert api.post(PATH, json={"events": events(1)}, key=key).status_code == 204
    assert api.post(PATH, json={"events": events(1)}, bearer="emu_at_bad").status_code == 204
    assert error_of(api.post("/api/v1/paywall/9999/events", json={"events": events(1)})) == (404, "not_found")
