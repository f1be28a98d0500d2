"""pytest11 entry point of the contract suite: registers the `--paywall-*` options (only those: the plugin
loads into every pytest session of a project that installed the package) so
`pytest --pyargs contract_tests --paywall-base-url ...` parses them before the package's conftest is
imported. Importing it is cheap and does nothing else; the suite's wiring lives in `conftest.py`. When a
`--paywall-*` option of the suite is given, its values are checked here, at configure time, so a mistake is
pytest's one-line usage error (the conftest is only loaded while collecting, where it would be a
collection error with a traceback).
"""

from __future__ import annotations

import pytest

from paywall_emulator.contract_tests.settings import FLAGS, OPTIONS, dest, from_options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paywall-contract", "monetize API contract suite (pytest --pyargs contract_tests)")
    for option, var, text in OPTIONS:
        group.addoption(option, dest=dest(option), default=None, help=f"{text} [env {var}]")
    for flag, var, text in FLAGS:
        group.addoption(flag, dest=dest(flag), action="store_true", default=False, help=f"{text} [env {var}]")


def pytest_configure(config: pytest.Config) -> None:
    if all(config.getoption(dest(option), None) in (None, "") for option, _, _ in OPTIONS):
        return  # not a contract run (the plugin loads into every session): nothing to check
    from paywall_emulator.contract_tests import spec

    try:
        settings = from_options(lambda name: config.getoption(name, None))
        if settings.spec_path is not None:
            spec.load(settings.spec_path)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
