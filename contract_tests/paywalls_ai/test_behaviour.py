"""Paywalls.ai behaviour over HTTP: keys and user ids refused in the OpenAI error shape, the body's user
before the header, models and balances read exactly; with writes, idempotent deposits, amounts of 0 refused,
a balance of exactly the amount charged and a paywall-required reply free; on an emulator target, usage
stopping at a zero balance, webhook subscription limits, and deliveries signed over their raw bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
import requests

from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

LINK = re.compile(r"https?://\S+")
WAIT_SECONDS = 20.0
MAX_CUSTOM_HEADERS = 10  # docs-facts C webhooks: customHeaders (≤10)


class Client:
    """The guarded session of the run with the paywall's key."""

    def __init__(self, contract: ContractSession) -> None:
        self.http = contract.http
        self.base_url = contract.base_url
        self.key = contract.settings.api_key

    def request(self, method: str, path: str, *, key: str | None = "", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        token = self.key if key == "" else key
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base_url + path, headers=headers, **kwargs)

    def balance(self, user: str) -> int:
        response = self.request("GET", "/v1/user/balance", params={"user": user})
        assert response.status_code == 200, response.text
        body = response.json()
        assert re.fullmatch(r"[0-9]+", body["balance"]) and isinstance(body["balanceFormatted"], str), body
        return int(body["balance"])


@pytest.fixture(scope="session")
def pw(contract: ContractSession) -> Client:
    contract.ready()
    return Client(contract)


def user(settings: Settings, tag: str) -> str:
    return f"conform-{settings.run_id}-{tag}"


def openai_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:300]}"
    body = response.json()
    assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"]), body
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def first_model(pw: Client) -> str:
    models = pw.request("GET", "/v1/models")
    assert models.status_code == 200, models.text
    data = models.json()["data"]
    assert data, "the paywall offers no model"
    return str(data[0]["id"])


def test_models_carry_decimal_prices(pw: Client) -> None:
    for model in pw.request("GET", "/v1/models").json()["data"]:
        assert set(model["pricing"]) >= {"prompt", "completion"}, model
        for price in model["pricing"].values():
            assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", price), model


@pytest.mark.parametrize("key", [None, "sk-paywalls-v1-conform-unknown"])
def test_a_missing_or_unknown_key_is_401(pw: Client, key: str | None) -> None:
    openai_error(pw.request("GET", "/v1/models", key=key), 401)


@pytest.mark.parametrize("bad", ["a b", "x" * 128, "a/b"])
def test_a_malformed_user_id_is_refused(pw: Client, bad: str) -> None:
    response = pw.request("GET", "/v1/user/balance", params={"user": bad})
    assert 400 <= response.status_code < 500, response.text
    openai_error(response, response.status_code)


def test_a_new_user_has_a_zero_balance(pw: Client, settings: Settings) -> None:
    assert pw.balance(user(settings, "fresh")) == 0


@pytest.mark.writes
def test_a_deposit_replayed_with_its_key_credits_once(pw: Client, settings: Settings) -> None:
    who = user(settings, "deposit")
    body = {"user": who, "amount": "0.5", "metadata": {"conformRun": settings.run_id}}
    key = {"Idempotency-Key": f"conform-{settings.run_id}-deposit"}
    first = pw.request("POST", "/v1/user/balance/deposit", json=body, headers=key)
    if first.status_code == 400 and "default_mode_only" in first.text:
        pytest.skip("the paywall is in shared mode: deposits are for default-mode paywalls")
    assert first.status_code == 200, first.text
    again = pw.request("POST", "/v1/user/balance/deposit", json=body, headers=key)
    assert again.status_code == 200 and again.json() == first.json()
    assert pw.balance(who) == 5 * 10**17  # 0.5 in base units of 10^-18, once


@pytest.mark.writes
def test_a_paywall_required_reply_charges_nothing(pw: Client, settings: Settings) -> None:
    who = user(settings, "blocked")
    before = pw.balance(who)
    response = pw.request("POST", "/v1/chat/completions",
                          json={"model": first_model(pw), "user": who,
                                "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    choice = body["choices"][0]
    assert body["object"] == "chat.completion" and choice["finish_reason"] == "stop", body
    assert LINK.search(choice["message"]["content"] or ""), body
    assert pw.balance(who) == before


def base_units(price: str) -> int:
    """A decimal USDC string (`"0.0001"`) in base units of 10^-18."""
    whole, _, fraction = price.partition(".")
    return int(whole or "0") * 10**18 + int(fraction.ljust(18, "0")[:18] or "0")


@pytest.mark.writes
@pytest.mark.emulator_only("a balance short of the per-request fee: a deployment may forward it to a paid provider")
def test_a_paywall_required_reply_leaves_a_short_balance_untouched(pw: Client, settings: Settings) -> None:
    """A refusal with money on the balance (one base unit short of the model's per-request fee): a
    refusal that takes what it can, never overdrawing, shows here and not at a zero balance."""
    model = next(m for m in pw.request("GET", "/v1/models").json()["data"] if m["id"] == first_model(pw))
    short = base_units(model["pricing"].get("request") or "0") - 1
    if short < 1:
        pytest.skip("the model has no per-request fee above one base unit: only a zero balance is refused")
    who = user(settings, "short")
    whole, fraction = divmod(short, 10**18)
    assert _deposit(pw, who, f"{whole}.{fraction:018d}").status_code == 200
    assert pw.balance(who) == short
    response = pw.request("POST", "/v1/chat/completions",
                          json={"model": model["id"], "user": who, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "stop" and LINK.search(choice["message"]["content"] or ""), response.text
    after = pw.balance(who)
    assert after == short, f"a paywall-required reply charged {short - after} base units"


class Inbox(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with inbox.lock:
                    inbox.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.writes
@pytest.mark.emulator_only("a webhook receiver the target can reach (127.0.0.1)")
def test_deliveries_are_signed_over_their_raw_bytes(pw: Client, settings: Settings, contract: ContractSession,
                                                    inbox: Inbox) -> None:
    secret = f"whsec_conform_{settings.run_id}"
    made = pw.request("POST", "/v1/webhooks/subscriptions",
                      json={"url": f"http://127.0.0.1:{inbox.server_address[1]}/hook",
                            "events": ["paywall.balance.*"], "secret": secret})
    assert made.status_code == 201 and made.json()["subscription"]["secret"] == secret, made.text
    who = user(settings, "hooked")
    pw.request("GET", "/v1/user/balance/topup", params={"user": who})  # paywall.balance.topup.link.created
    deadline = time.monotonic() + WAIT_SECONDS
    while not inbox.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert inbox.received, "no delivery arrived"
    headers, raw = inbox.received[0]
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers.get("X-Paywalls-Signature", ""), expected), "signature is not over the raw body"
    event = json.loads(raw)
    assert headers.get("X-Paywalls-Event") == f"{event['event']['type']}@1.0"
    datetime.fromisoformat(headers["X-Paywalls-Timestamp"].replace("Z", "+00:00"))
    jsonschema.validate(event, contract.contract.webhook_schema("paywallEvent"))


def _deposit(pw: Client, who: str, amount: str) -> requests.Response:
    response = pw.request("POST", "/v1/user/balance/deposit", json={"user": who, "amount": amount})
    if response.status_code == 400 and "default_mode_only" in response.text:
        pytest.skip("the paywall is in shared mode: deposits are for default-mode paywalls")
    return response


@pytest.mark.writes
def test_the_body_user_wins_over_the_header_and_the_query_over_the_header(pw: Client, settings: Settings) -> None:
    body_user, header_user = user(settings, "precedence-body"), user(settings, "precedence-header")
    response = pw.request("POST", "/v1/user/balance/deposit", json={"user": body_user, "amount": "0.25"},
                          headers={"X-Paywall-User": header_user})
    if response.status_code == 400 and "default_mode_only" in response.text:
        pytest.skip("the paywall is in shared mode: deposits are for default-mode paywalls")
    assert response.status_code == 200, response.text
    assert (pw.balance(body_user), pw.balance(header_user)) == (25 * 10**16, 0), "the body's user was credited"
    read = pw.request("GET", "/v1/user/balance", params={"user": body_user}, headers={"X-Paywall-User": header_user})
    assert read.status_code == 200 and read.json()["balance"] == str(25 * 10**16), read.text
    alone = pw.request("GET", "/v1/user/balance", headers={"X-Paywall-User": body_user})
    assert alone.status_code == 200 and alone.json()["balance"] == str(25 * 10**16), "the header alone names the user"


@pytest.mark.writes
def test_a_deposit_or_charge_of_zero_is_refused(pw: Client, settings: Settings) -> None:
    who = user(settings, "zero")
    openai_error(_deposit(pw, who, "0"), 400)  # the emulator's code is invalid_amount; the docs name none
    openai_error(pw.request("POST", "/v1/user/charge", json={"user": who, "amount": "0.0"}), 400)
    assert pw.balance(who) == 0, "a refused amount changes nothing"
    assert _deposit(pw, who, "0.000000000000000001").status_code == 200, "the smallest deposit, one base unit"
    assert pw.balance(who) == 1


@pytest.mark.writes
def test_a_balance_of_exactly_the_amount_is_charged_and_one_unit_short_is_not(pw: Client, settings: Settings) -> None:
    who = user(settings, "exact")
    assert _deposit(pw, who, "0.5").status_code == 200
    charged = pw.request("POST", "/v1/user/charge", json={"user": who, "amount": "0.5"})
    assert charged.status_code == 200 and charged.json()["success"] is True, (
        f"a charge of exactly the balance (0.5): {charged.text[:300]}")
    assert pw.balance(who) == 0
    assert _deposit(pw, who, "0.499999999999999999").status_code == 200
    short = pw.request("POST", "/v1/user/charge", json={"user": who, "amount": "0.5"})
    assert short.status_code == 200 and short.json()["success"] is False, f"one base unit short: {short.text[:300]}"
    assert LINK.search(short.json()["message"]), short.json()
    assert pw.balance(who) == 5 * 10**17 - 1, "a refused charge takes nothing"


@pytest.mark.writes
@pytest.mark.emulator_only("the emulator's fake model provider (a deployment forwards to a paid one)")
def test_usage_beyond_the_balance_is_capped_at_the_balance(pw: Client, settings: Settings) -> None:
    model = next(m for m in pw.request("GET", "/v1/models").json()["data"] if m["id"] == first_model(pw))
    fee = model["pricing"].get("request") or "0"
    who = user(settings, "capped")
    assert _deposit(pw, who, fee).status_code == 200
    response = pw.request("POST", "/v1/chat/completions", json={
        "model": model["id"], "user": who,
        "messages": [{"role": "user", "content": "a reply costing more than " + fee}]})
    assert response.status_code == 200, response.text
    assert not LINK.search(response.json()["choices"][0]["message"]["content"] or ""), (
        f"a balance of exactly the per-request fee ({fee}) is admitted: {response.text[:300]}")
    assert pw.balance(who) == 0, "the usage cost more than the balance: it is taken down to 0, never below"


@pytest.mark.writes
@pytest.mark.emulator_only("a webhook receiver the target can reach (127.0.0.1)")
def test_webhook_subscription_limits(pw: Client, inbox: Inbox) -> None:
    url = f"http://127.0.0.1:{inbox.server_address[1]}/limits"
    ten = {f"X-Conform-{i}": "1" for i in range(MAX_CUSTOM_HEADERS)}
    made = pw.request("POST", "/v1/webhooks/subscriptions", json={"url": url, "events": ["*"], "customHeaders": ten})
    assert made.status_code == 201, f"'*' alone and {MAX_CUSTOM_HEADERS} custom headers: {made.text[:300]}"
    assert made.json()["subscription"]["customHeaders"] == ten
    gone = pw.request("DELETE", f"/v1/webhooks/subscriptions/{made.json()['subscription']['id']}")
    assert gone.status_code == 200 and gone.json()["subscription"]["isActive"] is False, gone.text
    over = pw.request("POST", "/v1/webhooks/subscriptions",
                      json={"url": url, "events": ["paywall.updated"], "customHeaders": {**ten, "X-Conform-x": "1"}})
    openai_error(over, 400)
    mixed = pw.request("POST", "/v1/webhooks/subscriptions", json={"url": url, "events": ["*", "paywall.updated"]})
    openai_error(mixed, 400)
