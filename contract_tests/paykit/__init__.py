"""PayKit's contract suite (`paywall-emulator conform --product paykit`, or `pytest --pyargs
paywall_emulator.contract_tests.paykit --paywall-product paykit`): HTTP only, so it runs against the
bundled emulator or a PayKit deployment (read-only unless --allow-writes)."""
