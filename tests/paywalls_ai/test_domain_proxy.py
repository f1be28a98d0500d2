"""The proxy's admission and usage charge as pure rules."""

from __future__ import annotations

import pytest

from paywall_emulator.products.paywalls_ai.domain import access, proxy
from paywall_emulator.products.paywalls_ai.domain.access import Blocked
from paywall_emulator.products.paywalls_ai.errors import ModelNotFoundError
from paywall_emulator.products.paywalls_ai.money import parse_amount

from .support import LINKS, MODEL, T0, state


def test_admitted_then_charged_for_reported_usage_with_markup() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    admission = proxy.admit(st, app, "alice", MODEL, now=T0, links=LINKS)
    assert isinstance(admission, proxy.Admission)
    entry = proxy.settle(st, admission, prompt_tokens=10, completion_tokens=20, now=T0)
    assert entry is not None and entry.amount == entry.requested == parse_amount("0.00123")
    assert st.balances[("pw_app", "alice")] == parse_amount("1") - parse_amount("0.00123")
    assert [e.type for e in st.events] == ["paywall.usage.charge.created", "paywall.balance.charge.created",
                                           "paywall.balance.charge.completed"]
    usage = st.events[0].facts
    assert usage["prompt_tokens"] == 10 and usage["completion_tokens"] == 20 and usage["model"] == MODEL


def test_unknown_model_is_refused_before_anything() -> None:
    st = state()
    with pytest.raises(ModelNotFoundError):
        proxy.admit(st, st.paywalls["pw_app"], "alice", "gpt-nope", now=T0, links=LINKS)
    assert st.events == []


def test_blocked_without_funds_charges_nothing_and_reports_the_request() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    st.balances[("pw_app", "poor")] = parse_amount("0.0009")  # below the 0.001 per-request fee
    blocked = proxy.admit(st, app, "poor", MODEL, now=T0, links=LINKS)
    assert isinstance(blocked, Blocked) and blocked.reason == "insufficient_funds"
    assert blocked.url == "http://emu.test/_emulator/paywalls-ai/topup/cs_test_000001"
    assert blocked.url in blocked.message
    assert st.balances[("pw_app", "poor")] == parse_amount("0.0009")
    assert [e.type for e in st.events] == ["paywall.balance.depleted", "paywall.balance.topup.link.created",
                                           "paywall.request.blocked"]
    assert st.events[-1].facts == {"wallet_user_id": "poor", "reason": "insufficient_funds", "request_id": "req_000001"}


def test_shared_mode_unauthorized_is_blocked_until_approved() -> None:
    st = state()
    shared = st.paywalls["pw_shared"]
    blocked = proxy.admit(st, shared, "dave", MODEL, now=T0, links=LINKS)
    assert isinstance(blocked, Blocked) and blocked.reason == "authorization_required"
    access.decide(st, "auth_000001", approve=True, now=T0)
    admission = proxy.admit(st, shared, "dave", MODEL, now=T0, links=LINKS)
    assert isinstance(admission, proxy.Admission)
    entry = proxy.settle(st, admission, prompt_tokens=1_000_000, completion_tokens=0, now=T0)
    assert entry is not None and entry.amount == parse_amount("2")
    assert st.balances[("shared-wallet", "dave")] == 0
    assert st.events[-1].type == "paywall.balance.depleted"


def test_usage_beyond_the_balance_is_capped_and_recorded() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    admission = proxy.admit(st, app, "alice", MODEL, now=T0, links=LINKS)
    assert isinstance(admission, proxy.Admission)
    entry = proxy.settle(st, admission, prompt_tokens=0, completion_tokens=10_000_000, now=T0)
    assert entry is not None and entry.amount == parse_amount("1") and entry.requested > entry.amount
    assert st.balances[("pw_app", "alice")] == 0
    again = proxy.admit(st, app, "alice", MODEL, now=T0, links=LINKS)
    assert isinstance(again, Blocked)
