"""Stateful runs through the spec's `links`: a checkout's user is looked up and its purchases cancelled
(startCheckout -> getUser -> cancelSubscription), a credit is followed by a debit of the same user and
type (adjustBalance -> adjustBalance), each step checked like the generated tests.
"""

from __future__ import annotations

import pytest

from paywall_emulator.contract_tests import generated
from paywall_emulator.contract_tests.session import ContractSession


@pytest.mark.writes
def test_linked_workflows(contract: ContractSession) -> None:
    machine = generated.workflow_machine(contract)
    machine.run(settings=generated.workflow_settings(contract))
