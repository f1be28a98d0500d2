"""Generated conformance tests of PayKit's operations (one pytest item per operation): positive and
negative data, checked for server errors and for statuses, content types and bodies the PayKit document
does not declare, and invalid input that is accepted. Built only on a run for product `paykit`."""

from __future__ import annotations

from typing import Any

from paywall_emulator.contract_tests.paykit import generated
from paywall_emulator.contract_tests.session import current

SESSION = current()

if SESSION.settings.product == "paykit":
    schema = generated.load_schema(SESSION)
    http = generated.guarded_http(SESSION)

    @schema.parametrize()
    def test_paykit_operation(case: Any) -> None:
        case.call_and_validate(session=http)
