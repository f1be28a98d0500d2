"""Fault injection on public operations: error statuses, latency, dropped connections, nth call and
times, seeded probability, and faults after commit (the write stays applied, only the answer fails)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from paywall_emulator.testing import ThreadedEmulator

from .conftest import ACME_KEY, ALICE, STRIPE_PW, TOKEN_PW, Api, error_of


def add_fault(api: Api, **spec: Any) -> dict[str, Any]:
    resp = api.post("/_emulator/faults", json=spec)
    assert resp.status_code == 201, resp.text
    fault: dict[str, Any] = resp.json()
    return fault


def bootstrap(api: Api) -> requests.Response:
    return api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap")


def balance(emu: ThreadedEmulator, token_type: str = "standard") -> int:
    rows = emu.control.state()["monetize"]["balances"]
    [row] = [r for r in rows if r["user_id"] == ALICE and r["paywall_id"] == TOKEN_PW and r["type"] == token_type]
    return int(row["count"])


def credit(api: Api, amount: int = 5) -> requests.Response:
    return api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY,
                    json={"email": "alice@example.com", "type": "standard", "amount": amount, "op": "credit"})


def test_status_fault_answers_the_error_shape_until_deleted(api: Api) -> None:
    fault = add_fault(api, operation_id="getBootstrap", status=503)
    assert fault["id"].startswith("flt_") and fault["status"] == 503 and fault["times"] is None
    for _ in range(2):
        resp = bootstrap(api)
        assert error_of(resp) == (503, "fault_injected")
        assert resp.headers["X-Emulator-Fault"] == fault["id"]
    assert api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state").status_code != 503  # other operations untouched
    [listed] = api.get("/_emulator/faults").json()["faults"]
    assert (listed["calls"], listed["hits"]) == (2, 2)

    assert api.request("DELETE", f"/_emulator/faults/{fault['id']}").status_code == 204
    assert bootstrap(api).status_code == 200
    assert error_of(api.request("DELETE", f"/_emulator/faults/{fault['id']}")) == (404, "not_found")


def test_body_fields_are_merged_over_the_error(api: Api) -> None:
    add_fault(api, operation_id="getBootstrap", status=500, body={"message": "maintenance", "retry_after": 3})
    resp = bootstrap(api)
    assert error_of(resp) == (500, "fault_injected")
    assert resp.json()["message"] == "maintenance" and resp.json()["retry_after"] == 3


def test_nth_and_times_pick_the_calls(api: Api) -> None:
    add_fault(api, operation_id="getBootstrap", status=500, nth=2, times=2)
    assert [bootstrap(api).status_code for _ in range(5)] == [200, 500, 500, 200, 200]
    [listed] = api.get("/_emulator/faults").json()["faults"]
    assert (listed["calls"], listed["hits"]) == (5, 2)


def test_latency_alone_only_slows_the_call(api: Api) -> None:
    add_fault(api, operation_id="getBootstrap", latency_ms=30, times=1)
    resp = bootstrap(api)
    assert resp.status_code == 200 and resp.json()
    [listed] = api.get("/_emulator/faults").json()["faults"]
    assert listed["hits"] == 1


def test_dropped_connection_gets_no_answer(api: Api) -> None:
    add_fault(api, operation_id="getBootstrap", drop_connection=True, latency_ms=10, times=1)
    with pytest.raises(requests.ConnectionError):
        bootstrap(api)
    assert bootstrap(api).status_code == 200


def _pattern(api: Api) -> list[bool]:
    add_fault(api, operation_id="getBootstrap", status=503, probability=0.5)
    return [bootstrap(api).status_code == 503 for _ in range(24)]


def test_probability_is_seeded_and_repeats_after_reset(emu: ThreadedEmulator, api: Api) -> None:
    first = _pattern(api)
    emu.control.reset()
    assert api.get("/_emulator/faults").json() == {"faults": []}  # a reset clears faults
    second = _pattern(api)
    assert first == second
    assert any(first) and not all(first)


def test_fault_before_commit_changes_nothing(emu: ThreadedEmulator, api: Api) -> None:
    before = balance(emu)
    add_fault(api, operation_id="adjustBalance", status=503, times=1)
    assert error_of(credit(api)) == (503, "fault_injected")
    assert balance(emu) == before


def test_fault_after_commit_keeps_the_credit(emu: ThreadedEmulator, api: Api) -> None:
    before = balance(emu)
    add_fault(api, operation_id="adjustBalance", status=503, after_commit=True, times=1)
    assert error_of(credit(api)) == (503, "fault_injected")
    assert balance(emu) == before + 5  # the write happened although the client saw a failure
    resp = credit(api)
    assert resp.status_code == 200 and resp.json()["count"] == before + 10


def test_dropped_answer_after_commit_is_safe_to_retry_with_an_idempotency_key(emu: ThreadedEmulator,
                                                                               api: Api) -> None:
    checkouts_before = len(emu.control.state()["monetize"]["checkouts"])
    add_fault(api, operation_id="startCheckout", drop_connection=True, after_commit=True, times=1)
    headers = {"Idempotency-Key": "retry-me-0001"}
    body = {"email": "newcomer@example.com", "priceId": "101"}
    with pytest.raises(requests.ConnectionError):
        api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY, headers=headers, json=body)
    assert len(emu.control.state()["monetize"]["checkouts"]) == checkouts_before + 1  # committed before the drop

    retried = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY, headers=headers, json=body)
    again = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY, headers=headers, json=body)
    assert retried.status_code == again.status_code == 200
    assert retried.json()["checkoutUrl"] == again.json()["checkoutUrl"]
    assert len(emu.control.state()["monetize"]["checkouts"]) == checkouts_before + 1


@pytest.mark.parametrize(("spec", "expected"), [
    ({"operation_id": "noSuchOperation", "status": 500}, (404, "not_found")),
    ({"operation_id": "resetEmulator", "status": 500}, (400, "invalid_request")),
    ({"operation_id": "onPaymentCompleted", "status": 500}, (404, "not_found")),
    ({"operation_id": "getBootstrap", "status": 402}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap", "status": 200}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap"}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap", "status": 503, "drop_connection": True}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap", "drop_connection": True, "body": {"a": 1}}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap", "status": 503, "probability": 1.5}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap", "status": 503, "nth": 0}, (400, "invalid_request")),
    ({"operation_id": "getBootstrap", "status": 503, "surprise": 1}, (400, "invalid_request")),
])
def test_bad_fault_is_refused(api: Api, spec: dict[str, Any], expected: tuple[int, str]) -> None:
    assert error_of(api.post("/_emulator/faults", json=spec)) == expected
    assert api.get("/_emulator/faults").json() == {"faults": []}


def test_clear_removes_every_fault(api: Api) -> None:
    add_fault(api, operation_id="getBootstrap", status=503)
    add_fault(api, operation_id="getUserState", status=500)
    assert api.request("DELETE", "/_emulator/faults").status_code == 204
    assert api.get("/_emulator/faults").json() == {"faults": []}
    assert bootstrap(api).status_code == 200
