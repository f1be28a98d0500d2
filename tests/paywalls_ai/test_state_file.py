"""The Paywalls.ai state survives a state file (`serve --state`): written and read back equal, and the
read-back state still honours idempotency keys and retries pending deliveries."""

from __future__ import annotations

import json

from paywall_emulator.engine import snapshot
from paywall_emulator.products.paywalls_ai.domain import balances, webhooks
from paywall_emulator.products.paywalls_ai.domain.webhooks import NewSubscription
from paywall_emulator.products.paywalls_ai.state import PaywallsState

from .support import LINKS, T0, Secrets, state


def test_a_state_reads_back_equal_and_keeps_working() -> None:
    st = state()
    app = st.paywalls["pw_app"]
    webhooks.create_subscription(st, app, NewSubscription(url="https://hooks.example/x", events=["*"]), now=T0,
                                 secrets=Secrets())
    balances.deposit(st, app, "bob", "2", metadata={"r": 1}, idempotency_key="k", now=T0)
    balances.charge(st, app, "bob", "0.5", idempotency_key="c", now=T0, links=LINKS)
    back = snapshot.decode(json.loads(json.dumps(snapshot.encode(st))), PaywallsState)
    assert snapshot.encode(back) == snapshot.encode(st)  # (IdFactory has no ==: compared encoded)
    assert balances.deposit(back, back.paywalls["pw_app"], "bob", "2", metadata={"r": 1}, idempotency_key="k",
                            now=T0) == 2 * 10**18  # the remembered answer, nothing credited
    assert balances.charge(back, back.paywalls["pw_app"], "bob", "0.5", idempotency_key="c", now=T0,
                           links=LINKS).success
    assert balances.balance_of(back, back.paywalls["pw_app"], "bob") == 3 * 10**18 // 2
    (first, *_) = webhooks.due(back, T0)
    webhooks.record_attempt(back, first, at=T0, status_code=200, error=None)
    assert back.deliveries[first.id].status == "success" and first.id not in back.pending
