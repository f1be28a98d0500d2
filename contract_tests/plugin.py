"""pytest11 entry point of the contract suite: registers the `--paywall-*` options (only those: the plugin
loads into every pytest session of a project that installed the package) so
`pytest --pyargs contract_tests --paywall-base-url ...` parses them before the package's conftest is
imported. Importing it is cheap and does nothing else; the suite's wiring lives in `conftest.py`.
"""

from __future__ import annotations

import pytest

from paywall_emulator.contract_tests.settings import FLAGS, OPTIONS, dest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paywall-contract", "monetize API contract suite (pytest --pyargs contract_tests)")
    for option, var, text in OPTIONS:
        group.addoption(option, dest=dest(option), default=None, help=f"{text} [env {var}]")
    for flag, var, text in FLAGS:
        group.addoption(flag, dest=dest(flag), action="store_true", default=False, help=f"{text} [env {var}]")
