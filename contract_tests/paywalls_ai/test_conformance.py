"""Generated conformance tests of the Paywalls.ai document: every operation the run may touch, positive and
negative data, checked like the monetize ones (server errors, undeclared statuses, bodies and headers,
accepted invalid input, ignored authentication). One pytest item per operation."""

from __future__ import annotations

from typing import Any

from paywall_emulator.contract_tests import generated
from paywall_emulator.contract_tests.session import current

SESSION = current()
schema = generated.load_paywalls_ai_schema(SESSION)


@schema.parametrize()
def test_operation(case: Any) -> None:
    generated.call_and_validate(case, SESSION)
