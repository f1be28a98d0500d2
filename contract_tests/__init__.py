"""The monetize.software contract suite: generated (Schemathesis) and hand-written behavioural tests of
`spec/monetize.openapi.yaml` that run against the bundled emulator (default) or a real deployment.

Run it with `paywall-emulator conform [--base-url URL --api-key KEY --paywall-id ID]` or as plain pytest:
`pytest --pyargs contract_tests --paywall-base-url URL --paywall-api-key KEY --paywall-id ID`.
It talks HTTP only; `conftest.py` imports `emulator` solely to start the default in-thread target.
"""
