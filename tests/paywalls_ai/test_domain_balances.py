"""Balances, deposits, charges, top-ups and authorization as pure rules: values and state after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paywall_emulator.products.paywalls_ai.domain import access, balances, identity
from paywall_emulator.products.paywalls_ai.domain.balances import CardDeclinedError
from paywall_emulator.products.paywalls_ai.errors import (
    ConflictError,
    DefaultModeOnlyError,
    IdempotencyKeyReusedError,
    InvalidAmountError,
    InvalidKeyError,
    InvalidUserIdError,
    UserRequiredError,
)
from paywall_emulator.products.paywalls_ai.money import UNIT

from .support import LINKS, T0, state


def types(st: object) -> list[str]:
    return [e.type for e in st.events]  # type: ignore[attr-defined]


def test_key_names_one_paywall() -> None:
    st = state()
    assert identity.paywall_for_authorization(st, "Bearer sk-paywalls-v1-app").id == "pw_app"
    assert identity.paywall_for_authorization(st, "bearer sk-paywalls-v1-shared").id == "pw_shared"
    for bad in (None, "", "sk-paywalls-v1-app", "Bearer sk-paywalls-v1-nope", "Basic sk-paywalls-v1-app"):
        with pytest.raises(InvalidKeyError):
            identity.paywall_for_authorization(st, bad)


def test_user_precedence_body_then_header_then_url() -> None:
    assert identity.resolve_user("body", "header", "url") == "body"
    assert identity.resolve_user(None, "header", "url") == "header"
    assert identity.resolve_user(None, None, "url") == "url"
    with pytest.raises(UserRequiredError):
        identity.resolve_user(None, None, None)
    for bad in ("", "a b", "a/b", "ü", "x" * 128):
        with pytest.raises(InvalidUserIdError):
            identity.resolve_user(bad, "ok")
    assert identity.resolve_user("A-z_0.9~" + "x" * 119) == "A-z_0.9~" + "x" * 119  # 127 chars


def test_deposit_credits_and_idempotency_key_holds_24_hours() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    after = balances.deposit(st, app, "bob", "2.5", metadata={"r": 1}, idempotency_key="k1", now=T0)
    assert after == 5 * UNIT // 2
    again = balances.deposit(st, app, "bob", "2.5", metadata={"r": 1}, idempotency_key="k1",
                             now=T0 + timedelta(hours=23))
    assert again == after and balances.balance_of(st, app, "bob") == after
    assert types(st).count("paywall.balance.deposit.created") == 1
    with pytest.raises(IdempotencyKeyReusedError):
        balances.deposit(st, app, "bob", "3", metadata=None, idempotency_key="k1", now=T0 + timedelta(hours=1))
    assert balances.balance_of(st, app, "bob") == after
    # 24 h later the key is forgotten: the same call deposits again.
    balances.deposit(st, app, "bob", "2.5", metadata={"r": 1}, idempotency_key="k1", now=T0 + timedelta(hours=24))
    assert balances.balance_of(st, app, "bob") == 5 * UNIT
    # Without a key, every call deposits.
    balances.deposit(st, app, "bob", "1", metadata=None, idempotency_key=None, now=T0)
    balances.deposit(st, app, "bob", "1", metadata=None, idempotency_key=None, now=T0)
    assert balances.balance_of(st, app, "bob") == 7 * UNIT
    event = st.events[0]
    assert event.facts["amount"] == 5 * UNIT // 2 and event.facts["source"] == "api"


def test_deposit_refusals_change_nothing() -> None:
    st = state()
    with pytest.raises(DefaultModeOnlyError):
        balances.deposit(st, st.paywalls["pw_shared"], "carol", "1", metadata=None, idempotency_key=None, now=T0)
    for bad in ("0", "0.0", "-1", "abc"):
        with pytest.raises(InvalidAmountError):
            balances.deposit(st, st.paywalls["pw_app"], "bob", bad, metadata=None, idempotency_key=None, now=T0)
    assert st.events == [] and ("pw_app", "bob") not in st.balances


def test_charge_success_and_topup_message_when_short() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    ok = balances.charge(st, app, "alice", "0.4", idempotency_key=None, now=T0, links=LINKS)
    assert ok.success and balances.balance_of(st, app, "alice") == 6 * UNIT // 10
    short = balances.charge(st, app, "alice", "0.7", idempotency_key=None, now=T0, links=LINKS)
    assert not short.success
    assert "http://emu.test/_emulator/paywalls-ai/topup/cs_test_000001" in short.message
    assert "Demo Chat" in short.message
    assert balances.balance_of(st, app, "alice") == 6 * UNIT // 10  # nothing charged
    assert st.topups["cs_test_000001"].status == "open" and st.topups["cs_test_000001"].amount == 5 * UNIT
    assert types(st) == ["paywall.balance.charge.created", "paywall.balance.charge.completed",
                         "paywall.balance.depleted", "paywall.balance.topup.link.created",
                         "paywall.balance.charge.failed"]


def test_charge_exhausting_the_balance_emits_depleted_and_replays_by_key() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    first = balances.charge(st, app, "alice", "1", idempotency_key="c1", now=T0, links=LINKS)
    second = balances.charge(st, app, "alice", "1", idempotency_key="c1", now=T0, links=LINKS)
    assert first == second and first.success and balances.balance_of(st, app, "alice") == 0
    assert types(st)[-1] == "paywall.balance.depleted"
    assert len([e for e in st.ledger if e.kind == "charge"]) == 1


def test_many_charges_against_a_balance_end_exact() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    st.balances[("pw_app", "zed")] = 600 * 7
    results = [balances.charge(st, app, "zed", "0.000000000000000007", idempotency_key=None, now=T0, links=LINKS)
               for _ in range(1000)]
    assert sum(r.success for r in results) == 600
    assert balances.balance_of(st, app, "zed") == 0


def test_shared_mode_needs_authorization_then_spends_the_shared_wallet() -> None:
    st = state()
    shared = st.paywalls["pw_shared"]
    refused = balances.charge(st, shared, "dave", "1", idempotency_key=None, now=T0, links=LINKS)
    assert not refused.success
    assert refused.message == ("Please let Shared <App> charge you: "
                               "http://emu.test/_emulator/paywalls-ai/authorize/auth_000001")
    assert st.balances[("shared-wallet", "dave")] == 2 * UNIT
    # A second refusal reuses the open request.
    balances.charge(st, shared, "dave", "1", idempotency_key=None, now=T0, links=LINKS)
    assert list(st.authorizations) == ["auth_000001"]
    access.decide(st, "auth_000001", approve=True, now=T0)
    with pytest.raises(ConflictError):
        access.decide(st, "auth_000001", approve=False, now=T0)
    paid = balances.charge(st, shared, "dave", "1.5", idempotency_key=None, now=T0, links=LINKS)
    assert paid.success and st.balances[("shared-wallet", "dave")] == UNIT // 2
    assert access.disconnect(st, shared, "dave", now=T0) is True
    assert access.disconnect(st, shared, "dave", now=T0) is False
    assert not balances.charge(st, shared, "dave", "0.1", idempotency_key=None, now=T0, links=LINKS).success
    requested = next(e for e in st.events if e.type == "paywall.authorization.requested")
    assert requested.facts["approval_url"] == "http://emu.test/_emulator/paywalls-ai/authorize/auth_000001"
    assert [t for t in types(st) if t.startswith("paywall.authorization")] == [
        "paywall.authorization.requested", "paywall.authorization.completed", "paywall.authorization.revoked",
        "paywall.authorization.requested"]


def test_topup_page_pays_declines_and_cancels() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    session = balances.open_topup(st, app, "bob", now=T0, links=LINKS)
    with pytest.raises(CardDeclinedError):
        balances.pay_topup(st, session.id, "3", "4000 0000 0000 0002", now=T0)
    assert session.status == "open" and ("pw_app", "bob") not in st.balances
    balances.pay_topup(st, session.id, "3", "4242 4242 4242 4242", now=T0)
    assert session.status == "paid" and balances.balance_of(st, app, "bob") == 3 * UNIT
    with pytest.raises(ConflictError):
        balances.pay_topup(st, session.id, "3", None, now=T0)
    assert balances.balance_of(st, app, "bob") == 3 * UNIT
    other = balances.open_topup(st, app, "bob", now=T0, links=LINKS)
    balances.cancel_topup(st, other.id)
    with pytest.raises(ConflictError):
        balances.pay_topup(st, other.id, None, None, now=T0)
    assert types(st) == ["paywall.balance.topup.link.created", "paywall.stripe.checkout.session.completed",
                         "paywall.balance.deposit.created", "paywall.balance.topup.link.created"]
