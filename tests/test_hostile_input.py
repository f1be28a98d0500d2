"""Input that could poison state is refused at the door, on every operation of every spec, and leaves the
world as it was: text that is not valid Unicode (a lone surrogate, in a body, a key, a query value or a
header), nesting past the documented 32 levels, URLs with control characters; integral numbers are read
as integers, so nothing stored changes type; one e-mail rule everywhere. Every read works afterwards."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from paywall_emulator.engine.keys import OPERATIONS_KEY
from paywall_emulator.engine.openapi import load_document, spec_path
from paywall_emulator.engine.product import WorldError
from paywall_emulator.engine.values import MAX_NESTING
from paywall_emulator.products.monetize.domain.identity import EMAIL_PATTERN
from paywall_emulator.products.monetize.state import store_of
from paywall_emulator.testing import ThreadedEmulator
from tests.worlds import monetize_section, monetize_store

from .conftest import ACME_KEY, STRIPE_PW, TOKEN_PW, Api, error_of

SURROGATE_BODY = b'{"userMeta": {"userId": "\\ud800"}, "email": "x@example.com", "props": {"a": "\\udfff"}}'
SURROGATE_KEY = b'{"\\ud800": 1}'
PATH_VALUES = {"id": STRIPE_PW, "providerId": "p", "path": "x"}  # any other path parameter: an unknown id


def nested(depth: int) -> bytes:
    return ('{"userMeta": ' + '{"a": ' * depth + "1" + "}" * depth + "}").encode()


def body_operations(emu: ThreadedEmulator) -> list[Any]:
    ops = emu.call(lambda: list(emu.app[OPERATIONS_KEY].values()) if emu.app else [])
    return [op for op in ops if op.body_validators and "*/*" not in op.body_validators]


def reads(api: Api, token: str) -> dict[str, Any]:
    """Every kind of read, each of which must answer 200 after the poison."""
    answers = {
        "state": api.get("/_emulator/state"),
        "events": api.get("/_emulator/events"),
        "deliveries": api.get("/_emulator/webhooks/deliveries"),
        "bootstrap": api.get(f"/api/v1/paywall/{STRIPE_PW}/bootstrap"),
        "user": api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY, params={"email": "alice@example.com"}),
        "user-state": api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state", bearer=token),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    return {name: r.json() for name, r in answers.items()}


def test_poison_bodies_are_refused_by_every_operation_and_change_nothing(emu: ThreadedEmulator, api: Api) -> None:
    token = emu.control.mint_token(STRIPE_PW, email="alice@example.com")
    before = reads(api, token)["state"]
    ops = body_operations(emu)
    assert len(ops) >= 15  # every spec's operations with a body, control ones included
    for op in ops:
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "none"), op.path)
        headers = {"X-Api-Key": ACME_KEY, "Authorization": f"Bearer {token}"}
        if op.product == "paywalls-ai":  # its own keys; PayKit without a key is its open demo project
            headers = {"Authorization": "Bearer sk-paywalls-v1-emulator-demo"}
        if "application/json" in op.body_validators:
            for poison in (SURROGATE_BODY, SURROGATE_KEY, nested(MAX_NESTING + 1), nested(300)):
                resp = api.request(op.method, path, data=poison,
                                   headers={**headers, "Content-Type": "application/json"})
                if op.product in ("", "monetize"):  # the other products answer in their own error shapes
                    assert error_of(resp) == (400, "invalid_json"), (op.operation_id, poison[:40], resp.text)
                else:
                    assert resp.status_code == 400 and ("surrogate" in resp.text or "levels" in resp.text), (
                        op.operation_id, poison[:40], resp.text)
        else:  # the hosted pages' form posts: bytes that are not UTF-8
            resp = api.request(op.method, path, data=b"action=\xff",
                               headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
            assert resp.status_code == 400, (op.operation_id, resp.text)
    after = reads(api, token)
    assert after["state"] == before


def test_nesting_up_to_the_limit_is_accepted(api: Api, control: Any) -> None:
    """The last accepted depth and the first refused one: 32 levels of objects and arrays, the body itself
    counted (it is level 1, `userMeta` level 2)."""
    start = f"/api/v1/paywall/{STRIPE_PW}/start-checkout"
    body = {"email": "deep@example.com", "priceId": "101"}
    ok = api.post(start, key=ACME_KEY, headers={"Content-Type": "application/json"},
                  data=json.dumps(body)[:-1].encode() + b', ' + nested(MAX_NESTING - 1)[1:])
    assert ok.status_code == 200, ok.text
    refused = api.post(start, key=ACME_KEY, headers={"Content-Type": "application/json"},
                       data=json.dumps({**body, "email": "deeper@example.com"})[:-1].encode() + b', '
                       + nested(MAX_NESTING)[1:])
    assert error_of(refused) == (400, "invalid_json")
    emails = {u["email"] for u in control.state()["monetize"]["users"]}
    assert "deep@example.com" in emails and "deeper@example.com" not in emails


@pytest.mark.parametrize(("where", "kwargs"), [
    ("header", {"headers": {"X-User-Email": "alice\xff@example.com"}}),
    ("query", {"params": {"email": "\udcff@example.com"}}),
    ("idempotency key", {"headers": {"Idempotency-Key": "key-\xff"}}),
])
def test_invalid_text_in_parameters_and_headers_is_refused(api: Api, control: Any, where: str,
                                                           kwargs: dict[str, Any]) -> None:
    before = control.state()
    if where == "query":  # requests would encode the surrogate; send the raw UTF-8 of U+D800 instead
        resp = api.get(f"/api/v1/paywall/{STRIPE_PW}/user?email=%ED%A0%80", key=ACME_KEY)
    elif where == "idempotency key":  # a write: the key would be stored with the checkout
        resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
                        json={"email": "idem@example.com", "priceId": "101"}, **kwargs)
    else:
        resp = api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY, **kwargs)
    assert resp.status_code == 400, resp.text
    assert control.state() == before


@pytest.mark.parametrize("amount", ["1.0", "1e2", "4.0e1"])
def test_integral_numbers_are_stored_as_integers(api: Api, amount: str) -> None:
    body = f'{{"email": "alice@example.com", "type": "standard", "amount": {amount}, "op": "credit"}}'
    resp = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY, data=body,
                    headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    assert '.0' not in resp.text.split('"count"', 1)[1].split(",", 1)[0]
    user = api.get(f"/api/v1/paywall/{TOKEN_PW}/user", key=ACME_KEY, params={"email": "alice@example.com"})
    counts = [b["count"] for b in user.json()["balances"]]
    assert all(type(c) is int for c in counts) and re.search(r'"count":\s*\d+[,}]', user.text), user.text


def test_a_fractional_amount_is_still_refused(api: Api) -> None:
    resp = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY,
                    json={"email": "alice@example.com", "type": "standard", "amount": 1.5, "op": "credit"})
    assert resp.status_code == 400


@pytest.mark.parametrize("url", ["https://app.example.com/ok\r\nSet-Cookie: x=1", "https://app.example.com/\x00",
                                 "https://app.example.com/a b", "javascript:alert(1)", "https://app.example.com/\x7f"])
@pytest.mark.parametrize("field", ["successUrl", "errorUrl"])
def test_urls_with_control_characters_are_refused_at_the_door(api: Api, control: Any, url: str, field: str) -> None:
    before = control.state()
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY,
                    json={"email": "crlf@example.com", "priceId": "101", field: url})
    assert error_of(resp) == (400, "invalid_url")
    assert control.state() == before


@pytest.mark.parametrize(("key", "value"), [("checkout_shop_url", "javascript:alert(document.domain)"),
                                            ("success_redirect_url", "https://x.example/\r\nLocation: evil"),
                                            ("checkout_shop_url", "ftp://files.example.com/")])
def test_world_files_hold_only_http_urls(key: str, value: str) -> None:
    section = monetize_section()
    section["paywalls"][0][key] = value
    with pytest.raises(WorldError, match=key):
        monetize_store(section, now=__import__("datetime").datetime(2030, 1, 1, tzinfo=__import__("datetime").UTC))


def test_a_world_file_with_invalid_text_is_refused(tmp_path: Any) -> None:
    from paywall_emulator.engine.worldfile import read_world

    bad = tmp_path / "bad.yaml"
    bad.write_text('monetize:\n  owners: [{id: "own_\\ud800", name: x, api_keys: [sk_a]}]\n', encoding="utf-8")
    with pytest.raises(WorldError, match=r"lone surrogate|invalid Unicode"):
        read_world(bad)


EMAILS_REFUSED = ["<script>alert(1)</script>@example.com", " alice@example.com ", "alice@example", "a b@example.com",
                  "alice@@example.com", "alice@-example.com"]


@pytest.mark.parametrize("email", EMAILS_REFUSED)
def test_one_email_rule_for_checkout_portal_credits_and_tickets(api: Api, control: Any, email: str) -> None:
    before = control.state()
    calls = [
        api.post(f"/api/v1/paywall/{STRIPE_PW}/start-checkout", key=ACME_KEY, json={"email": email, "priceId": "101"}),
        api.post(f"/api/v1/paywall/{STRIPE_PW}/get-customer-portal", key=ACME_KEY, json={"email": email}),
        api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY,
                 json={"email": email, "type": "standard", "amount": 1, "op": "credit"}),
        api.post(f"/api/v1/paywall/{STRIPE_PW}/support/ticket",
                 json={"subject": "Help me", "content": "text", "customer_email": email}),
    ]
    assert [error_of(r) for r in calls] == [(400, "invalid_email")] * len(calls)
    assert control.state() == before


def test_the_spec_and_the_domain_share_the_email_pattern() -> None:
    spec = yaml.safe_dump(load_document(spec_path("monetize.openapi.yaml")))
    patterns = {p for p in re.findall(r"pattern: (.+)", spec) if "@" in p}
    assert patterns and {yaml.safe_load(p) for p in patterns} == {EMAIL_PATTERN}


def test_a_valid_email_passes_everywhere(api: Api) -> None:
    resp = api.post(f"/api/v1/paywall/{STRIPE_PW}/support/ticket",
                    json={"subject": "Help me", "content": "text", "customer_email": "o'brien+tag@mail.example.co"})
    assert resp.status_code in (200, 201), resp.text


def test_idempotency_records_are_dropped_after_24_hours_of_emulator_time(api: Api, emu: ThreadedEmulator) -> None:
    """Memory stays bounded by the keys of the last day: an old record goes when a new one comes."""
    start = f"/api/v1/paywall/{STRIPE_PW}/start-checkout"
    for n in range(3):
        api.post(start, key=ACME_KEY, headers={"Idempotency-Key": f"old-{n}"},
                 json={"email": f"old{n}@example.com", "priceId": "101"})
    keys = emu.call(lambda: sorted(k for _, k in store_of(emu.world).idempotency))
    assert keys == ["old-0", "old-1", "old-2"]
    emu.control.clock.advance(days=1, seconds=1)
    api.post(start, key=ACME_KEY, headers={"Idempotency-Key": "new"}, json={"email": "n@example.com", "priceId": "101"})
    assert emu.call(lambda: sorted(k for _, k in store_of(emu.world).idempotency)) == ["new"]


def test_a_header_that_is_not_text_is_a_400_on_every_operation(emu: ThreadedEmulator, api: Api) -> None:
    """A header byte that is not UTF-8 is refused at the door on every operation of every spec, in the
    product's error shape and within the operation's declared 400 (an operation whose 400 names one fixed
    message, like PayKit's webhook, must still allow it): never a 500, and nothing changes."""
    token = emu.control.mint_token(STRIPE_PW, email="alice@example.com")
    before = reads(api, token)["state"]
    ops = emu.call(lambda: list(emu.app[OPERATIONS_KEY].values()) if emu.app else [])
    assert len(ops) >= 80  # every operation of every spec, control ones and pages included
    refused = {}
    for op in ops:
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "none"), op.path)
        resp = api.request(op.method, path, headers={"X-Api-Key": ACME_KEY, "X-Probe": b"caf\xe9"})
        refused[op.operation_id] = resp.status_code
    assert {op: status for op, status in refused.items() if status != 400} == {}
    assert reads(api, token)["state"] == before
