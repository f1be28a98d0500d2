"""Token balances (adjustBalance): an `insufficient` debit changes nothing, credits and debits add up
(a Hypothesis property against a plain-integer model), debits sent at once over several connections
neither overdraw nor lose updates (a debit is atomic), and refusals carry their codes
(`token_type_not_found`, `identity_not_found`, 401 for a Bearer-only caller).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paywall_emulator.contract_tests.client import Api, expect_error, expect_ok, explain, sdk_code
from paywall_emulator.contract_tests.helpers import adjust, balances, balances_path, concurrently, need, start_checkout
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.writes
CONCURRENT_CREDIT = 20  # N: the balance 2N simultaneous debits of 1 race for
CONNECTIONS = 8


def _token_user(api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> tuple[str, str, str]:
    paywall = need(contract.settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    user_id = start_checkout(api, contract, paywall, new_email("tokens"))["userId"]
    counts = balances(api, paywall, user_id)
    assert counts, f"a user linked to tokenized paywall {paywall} has no balance rows"
    paid = [t for t in counts if t != "free"]
    return paywall, user_id, (paid or list(counts))[0]


def test_insufficient_debit_leaves_the_balance_unchanged(
        api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> None:
    paywall, user_id, type_ = _token_user(api, contract, new_email)
    have = expect_ok(adjust(api, paywall, user_id, type_, 3, "credit"))["count"]
    refused = expect_error(adjust(api, paywall, user_id, type_, have + 1, "debit"), 400, "insufficient")
    assert refused.get("available") == have, refused
    assert balances(api, paywall, user_id)[type_] == have
    drained = expect_ok(adjust(api, paywall, user_id, type_, have, "debit"))
    assert drained["count"] == 0, drained
    assert {"type": type_, "count": 0} in [{"type": b["type"], "count": b["count"]} for b in drained["balances"]]


def test_concurrent_debits_neither_overdraw_nor_lose_updates(
        api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> None:
    """2N debits of 1, sent at once over several connections against a balance of N: exactly N succeed,
    each reporting a different remaining count, the other N are refused `insufficient`, and the balance
    ends at 0. A target that reads the balance, awaits something, then writes it back loses updates here."""
    paywall, user_id, type_ = _token_user(api, contract, new_email)
    have = balances(api, paywall, user_id)[type_]
    if have:
        assert expect_ok(adjust(api, paywall, user_id, type_, have, "debit"))["count"] == 0
    n = CONCURRENT_CREDIT
    assert expect_ok(adjust(api, paywall, user_id, type_, n, "credit"))["count"] == n
    connections = [contract.connection() for _ in range(CONNECTIONS)]
    answers = concurrently(connections, [lambda c: adjust(c, paywall, user_id, type_, 1, "debit")] * (2 * n))

    outcome = Counter(f"{r.status_code} {sdk_code(r)}" for r in answers)
    succeeded = [r for r in answers if r.status_code == 200]
    example = explain(succeeded[0] if succeeded else answers[0])
    assert outcome == {"200 http_200": n, "400 insufficient": n}, (
        f"{2 * n} debits of 1 sent at once over {CONNECTIONS} connections against a balance of {n}: expected "
        f"{n} × 200 and {n} × 400 insufficient, got {dict(outcome)} (a debit is not atomic: concurrent "
        f"requests overdraw or lose updates); one of them: {example}")
    remaining = sorted(expect_ok(r)["count"] for r in succeeded)
    assert remaining == list(range(n)), (
        f"the {n} accepted debits reported remaining counts {remaining}, not each of {n - 1}..0 once "
        f"(lost updates); one of them: {example}")
    for refused in (r for r in answers if r.status_code != 200):
        body = expect_error(refused, 400, "insufficient")
        assert body.get("available") == 0, f"refused with a balance left, {explain(refused)}"
    assert balances(api, paywall, user_id)[type_] == 0


_ops = st.lists(st.tuples(st.sampled_from(["credit", "debit"]), st.integers(min_value=1, max_value=40)),
                min_size=1, max_size=6)


def test_credits_and_debits_add_up(api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> None:
    """A Hypothesis property run inside the test, so its budget comes from this run's settings and every
    example uses the one user created here (a real deployment gets one account, not dozens)."""
    paywall, user_id, type_ = _token_user(api, contract, new_email)

    @hypothesis_settings(max_examples=contract.settings.budget.behaviour_examples, deadline=None, database=None)
    @given(ops=_ops)
    def add_up(ops: list[tuple[str, int]]) -> None:
        model = balances(api, paywall, user_id)[type_]
        for op, amount in ops:
            resp = adjust(api, paywall, user_id, type_, amount, op)
            if op == "debit" and amount > model:
                body = expect_error(resp, 400, "insufficient")
                assert body.get("available") == model, body
                continue
            model = model + amount if op == "credit" else model - amount
            assert expect_ok(resp)["count"] == model, (ops, resp.text)
        assert balances(api, paywall, user_id)[type_] == model

    add_up()


def test_unknown_token_type_is_token_type_not_found(
        api: Api, contract: ContractSession, new_email: Callable[[str], str]) -> None:
    paywall, user_id, _ = _token_user(api, contract, new_email)
    resp = adjust(api, paywall, user_id, f"conform_{contract.settings.run_id}_nosuchtype", 1, "credit")
    expect_error(resp, 400, "token_type_not_found")


def test_debit_of_an_unknown_user_is_identity_not_found(
        api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    paywall = need(settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    resp = api.post(balances_path(paywall), json={"email": new_email("ghost"), "type": "standard", "amount": 1,
                                                  "op": "debit"})
    expect_error(resp, 404, "identity_not_found")


def test_adjusting_without_an_api_key_is_unauthorized(api: Api, settings: Settings) -> None:
    paywall = need(settings.tokenized_id, "--paywall-tokenized-id", "a tokenized paywall")
    resp = api.post(balances_path(paywall), key=None, bearer=f"conform-{settings.run_id}-not-a-token",
                    json={"email": "a@example.com", "type": "standard", "amount": 1, "op": "credit"})
    expect_error(resp, 401, "unauthorized")
