"""Wiring of PayKit's suite on top of the contract machinery (settings, target, report, markers): its
tests are collected only on a run for product `paykit`, and they share one `PayKitTarget`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paywall_emulator.contract_tests import session as contract_session
from paywall_emulator.contract_tests.paykit.target import PayKitTarget


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if contract_session.current(config).settings.product == "paykit":
        return
    here = Path(__file__).resolve().parent
    mine = [i for i in items if here in Path(i.path).resolve().parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [i for i in items if i not in mine]


@pytest.fixture(scope="session")
def paykit(pytestconfig: pytest.Config) -> Iterator[PayKitTarget]:
    target = PayKitTarget(contract_session.current(pytestconfig))
    try:
        yield target
    finally:
        target.close()
