"""Every documented limit at its edge (the last accepted and the first refused value) and the legacy
endpoint by its effect on state: the events batch (100 / 101 → 413), ticket files (5 / 6, the types, the
size), the largest balance (2^31 - 1), and `withdraw-tokens` debiting the same balance `balances` shows.
Plus the request variants that must give the same answer: numeric or string price ids, the JSON and the
`text/plain` (sendBeacon) events body, email or user id as the identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from paywall_emulator.contract_tests.client import STATE_ALL, Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.helpers import adjust, balances, checkout_path, need, start_checkout, user_path
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.writes
MAX_EVENTS = 100  # wire contract §E10: MAX_EVENTS_PER_BATCH, above it 413
MAX_FILES = 5  # §E9: at most 5 files
MAX_BALANCE = 2**31 - 1  # README "Largest balance"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _events(paywall: str) -> str:
    return f"/api/v1/paywall/{paywall}/events"


def _batch(settings: Settings, n: int) -> dict[str, object]:
    return {"events": [{"type": "host:conform", "ts": 1_700_000_000_000 + i, "props": {"run": settings.run_id}}
                       for i in range(n)]}


def test_an_events_batch_of_100_is_accepted_and_101_is_413(api: Api, settings: Settings) -> None:
    ok = api.post(_events(settings.paywall_id), key=None, json=_batch(settings, MAX_EVENTS))
    assert ok.status_code == 204, f"a batch of {MAX_EVENTS} events: expected 204, got {ok.status_code} {ok.text[:200]}"
    over = api.post(_events(settings.paywall_id), key=None, json=_batch(settings, MAX_EVENTS + 1))
    expect_error(over, 413, "too_many_events")


@pytest.mark.emulator_only("the analytics log of GET /_emulator/state")
def test_a_beacon_text_plain_batch_is_ingested_like_json(api: Api, control: Control, settings: Settings) -> None:
    before = len(control.request("GET", STATE_ALL)["monetize"]["analytics"])
    beacon = {**_batch(settings, 3), "visitor_id": f"conform-{settings.run_id}", "user_id": None,
              "sdk_version": "3.5.1", "paywall_id": settings.paywall_id, "capabilities": ""}
    resp = api.post(_events(settings.paywall_id), key=None, data=json.dumps(beacon),
                    headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert resp.status_code == 204, f"a sendBeacon (text/plain) batch: expected 204, got {resp.status_code} {resp.text}"
    log = control.request("GET", STATE_ALL)["monetize"]["analytics"]
    assert len(log) == before + 3, f"analytics log grew by {len(log) - before}, expected 3"
    assert {e["visitor_id"] for e in log[before:]} == {f"conform-{settings.run_id}"}, log[before:]


def _ticket(api: Api, settings: Settings, email: str, files: list[tuple[str, bytes, str]]) -> object:
    data = {"subject": f"conform {settings.run_id}", "content": "limits", "customer_email": email}
    return api.post(f"/api/v1/paywall/{settings.paywall_id}/support/ticket", key=None, data=data,
                    files=[("files", f) for f in files])


def test_five_files_are_accepted_and_six_are_too_many(api: Api, settings: Settings,
                                                      new_email: Callable[[str], str]) -> None:
    five = [(f"f{i}.png", PNG, "image/png") for i in range(MAX_FILES)]
    body = expect_ok(_ticket(api, settings, new_email("files"), five))  # type: ignore[arg-type]
    assert isinstance(body["ticket"]["id"], int) and body["ticket"]["status"] == "open", body
    six = [*five, ("f5.png", PNG, "image/png")]
    expect_error(_ticket(api, settings, new_email("files"), six), 400, "too_many_files")  # type: ignore[arg-type]


@pytest.mark.parametrize("content_type", ["image/gif", "application/pdf"])
def test_files_other_than_jpeg_png_webp_are_invalid(api: Api, settings: Settings, new_email: Callable[[str], str],
                                                    content_type: str) -> None:
    resp = _ticket(api, settings, new_email("type"), [("f.bin", PNG, content_type)])
    expect_error(resp, 400, "invalid_file")  # type: ignore[arg-type]


@pytest.mark.emulator_only("the emulator's documented 10 MB file limit (the SDK's own check stops at 5 MB)")
def test_a_file_at_the_size_limit_is_accepted_and_one_byte_more_refused(
        api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    limit = 10 * 1024 * 1024
    expect_ok(_ticket(api, settings, new_email("size"), [("big.png", b"\0" * limit, "image/png")]))  # type: ignore[arg-type]
    resp = _ticket(api, settings, new_email("size"), [("big.png", b"\0" * (limit + 1), "image/png")])
    expect_error(resp, 400, "file_too_large")  # type: ignore[arg-type]


def _token_user(api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> tuple[str, str]:
    paywall = need(contract.settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    return paywall, str(start_checkout(api, contract, paywall, new_email("limit"))["userId"])


def test_the_largest_balance_is_2_to_the_31_minus_1(api: Api, contract: ContractSession,
                                                    new_email: Callable[[str], str]) -> None:
    paywall, user_id = _token_user(api, contract, new_email)
    have = balances(api, paywall, user_id)["standard"]
    top = expect_ok(adjust(api, paywall, user_id, "standard", MAX_BALANCE - have, "credit"))
    assert top["count"] == MAX_BALANCE, f"credit to the maximum: balance {top['count']}, expected {MAX_BALANCE}"
    over = expect_error(adjust(api, paywall, user_id, "standard", 1, "credit"), 400, "invalid_amount")
    assert over.get("maximum") == MAX_BALANCE and over.get("available") == MAX_BALANCE, over
    assert balances(api, paywall, user_id)["standard"] == MAX_BALANCE, "a refused credit changed the balance"
    expect_error(adjust(api, paywall, user_id, "standard", MAX_BALANCE + 1, "debit"), 400, "invalid_amount")
    expect_error(adjust(api, paywall, user_id, "standard", 0, "credit"), 400, "invalid_amount")
    done = expect_ok(adjust(api, paywall, user_id, "standard", MAX_BALANCE, "debit"))
    assert done["count"] == 0, f"debit of the whole maximum left {done['count']}"


def test_legacy_withdraw_tokens_debits_the_balance_and_refuses_overdraw(
        api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> None:
    paywall, user_id = _token_user(api, contract, new_email)
    have = expect_ok(adjust(api, paywall, user_id, "standard", 5, "credit"))["count"]
    body = {"paywall_id": paywall, "user_id": user_id, "tokens": 2, "token_type": "standard"}
    done = expect_ok(api.post("/api/v1/withdraw-tokens", json=body))
    assert done.get("remaining") == have - 2, f"withdraw 2 of {have}: remaining {done.get('remaining')}"
    assert balances(api, paywall, user_id)["standard"] == have - 2, "withdraw-tokens and user disagree"
    refused = expect_error(api.post("/api/v1/withdraw-tokens", json={**body, "tokens": have - 1}), 400,
                           "insufficient_tokens")  # one more than is left: the first refused value
    assert (refused.get("available"), refused.get("requested")) == (have - 2, have - 1), refused
    assert balances(api, paywall, user_id)["standard"] == have - 2, "a refused withdraw changed the balance"


def test_a_price_id_as_number_or_numeric_string_buys_the_same_price(
        api: Api, contract: ContractSession, settings: Settings, new_email: Callable[[str], str]) -> None:
    price = str(contract.price_ids(settings.paywall_id)[0])
    answers = [expect_ok(api.post(checkout_path(settings.paywall_id),
                                  json={"email": new_email("pid"), "priceId": value}))
               for value in (int(price) if price.isdigit() else price, price)]
    assert answers[0]["acquiring"] == answers[1]["acquiring"], answers


def test_email_and_user_id_name_the_same_user(api: Api, contract: ContractSession, settings: Settings,
                                              new_email: Callable[[str], str]) -> None:
    email = new_email("ident")
    user_id = start_checkout(api, contract, settings.paywall_id, email)["userId"]
    by_email = expect_ok(api.get(user_path(settings.paywall_id), params={"email": email}))
    by_id = expect_ok(api.get(user_path(settings.paywall_id), params={"user_id": user_id}))
    assert by_id == by_email, f"GET user by email {by_email} and by user_id {by_id} differ"
    both = expect_ok(api.get(user_path(settings.paywall_id), params={"email": email, "user_id": user_id}))
    assert both == by_email, both
