"""Generated conformance tests: every operation the run may touch, positive and negative data, checked
for server errors and for status codes, content types, bodies and headers the spec does not declare,
accepted invalid input and ignored authentication. One pytest item per operation.
"""

from __future__ import annotations

from typing import Any

from paywall_emulator.contract_tests import generated
from paywall_emulator.contract_tests.session import current

SESSION = current()
schema = generated.load_schema(SESSION)


@schema.parametrize()
def test_operation(case: Any) -> None:
    generated.call_and_validate(case, SESSION)
