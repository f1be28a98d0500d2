"""pytest wiring of the contract suite: settings from the `--paywall-*` options (registered by
`contract_tests.plugin`) and `PAYWALL_*` variables, the target
(by default the bundled emulator, started in a thread on a free port), the skip rules of the
`emulator_only` and `writes` markers, the report, and the fixtures the tests share.

This is the only module of `contract_tests` that imports `emulator`, and only to start the default
target (`emulator.testing`, `emulator.config`); everything else talks HTTP.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from paywall_emulator.contract_tests import session as contract_session
from paywall_emulator.contract_tests.client import Api, Control
from paywall_emulator.contract_tests.reporting import BLOCKED, render
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings, from_options

WRITES_SKIP = ("writes: creates or changes objects on the target (checkouts, tickets, balances); "
               "pass --paywall-allow-writes (test-mode paywalls only)")


def _start_emulator() -> tuple[str, Callable[[], None]]:
    from paywall_emulator.config import EmulatorConfig
    from paywall_emulator.testing import ThreadedEmulator

    emu = ThreadedEmulator(EmulatorConfig(strict_responses=True)).start()
    return emu.base_url, emu.stop


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_only(what): needs the emulator's control API "
                                       "(skipped against a real deployment)")
    config.addinivalue_line("markers", "writes: creates or changes objects on the target "
                                       "(needs --paywall-allow-writes against a real deployment)")
    try:
        settings = from_options(lambda name: config.getoption(name, None))
        session = ContractSession(settings, _start_emulator if settings.in_thread else None)
    except ValueError as exc:  # a bad option value, or a --paywall-spec that is not an OpenAPI document
        raise pytest.UsageError(str(exc)) from None
    contract_session.install(config, session)
    # Test modules build tests from the run's session when imported: a module left in sys.modules by an
    # earlier run in this process would keep that run's (closed) session and target.
    # (Installed, they are `paywall_emulator.contract_tests.test_*`; from a checkout, `contract_tests.test_*`.)
    for name in [n for n in sys.modules if f".{n}".rpartition(".")[0].endswith(".contract_tests")
                 and n.rpartition(".")[2].startswith("test_")]:
        del sys.modules[name]


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """One product's contract per run: `paywalls_ai/` only with --paywall-product paywalls-ai, the monetize
    tests (this folder's own test modules) only without it."""
    product = config.getoption("paywall_product", None) or os.environ.get("PAYWALL_PRODUCT") or "monetize"
    here = Path(__file__).resolve().parent
    path = Path(str(collection_path)).resolve()
    if path == here / "paywalls_ai":
        return product != "paywalls-ai"
    if path.parent == here and path.name.startswith("test_") and path.suffix == ".py":
        return product == "paywalls-ai" or None
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    session = contract_session.uninstall(config)
    if session is None:
        return
    try:
        recorder = session.recorder
        if session.settings.report_path and (recorder.total_requests or recorder.outcomes):
            recorder.meta.update(_meta(session.settings, session))
            recorder.write(session.settings.report_path)
    finally:
        session.close()


def _meta(settings: Settings, session: ContractSession) -> dict[str, Any]:
    return {"target": session.started_url or "in-thread emulator", "base_url": session.started_url,
            "kind": settings.target_kind, "paywall_id": settings.paywall_id, "allow_writes": settings.allow_writes,
            "budget": settings.budget.name,
            "max_requests": settings.budget.max_requests, "run_id": settings.run_id,
            "hypothesis_seed": settings.hypothesis_seed}


def pytest_runtest_setup(item: pytest.Item) -> None:
    session = contract_session.current(item.config)
    settings = session.settings
    marker = item.get_closest_marker("emulator_only")
    if marker is not None and not settings.control:
        what = marker.args[0] if marker.args else "the /_emulator control API"
        pytest.skip(f"emulator_only: needs {what}; run against the bundled emulator, or pass --paywall-control "
                    "when the target is a paywall-emulator")
    if item.get_closest_marker("writes") is not None and not settings.allow_writes:
        pytest.skip(WRITES_SKIP)
    session.recorder.start_test(item.nodeid)
    if session.started_url:
        session.recorder.meta.setdefault("base_url", session.started_url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    recorder = contract_session.current(item.config).recorder
    if report.skipped and report.when in ("setup", "call"):
        longrepr = report.longrepr
        reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr).removeprefix("Skipped: ")
        if reason.startswith(BLOCKED):
            recorder.on_result(item.nodeid, "blocked", reason)
        else:
            recorder.on_result(item.nodeid, "skipped")
            recorder.skips[reason] += 1
    elif report.failed and report.when in ("setup", "call"):
        recorder.on_result(item.nodeid, "failed" if report.when == "call" else "error")
        if not recorder.has_failure_for(item.nodeid):
            generated = "[" in item.nodeid and "test_conformance" in item.nodeid
            check = "error" if generated else getattr(item, "originalname", item.name)
            text = report.longreprtext or ""
            title = next((ln.strip() for ln in text.splitlines() if ln.startswith("E ")), text[:200])
            recorder.add_failure(operation=recorder.last_operation or "-", check=check,
                                 title=title.removeprefix("E").strip()[:300], message=text[-2000:],
                                 request=recorder.last_request, status=recorder.last_status,
                                 response=recorder.last_body, test=item.nodeid, script=not generated)
    elif report.passed and report.when == "call":
        recorder.on_result(item.nodeid, "passed")
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    session = contract_session.peek(terminalreporter.config)
    if session is None or not session.recorder.total_requests:
        return
    s = session.settings
    terminalreporter.write_sep("=", "paywall contract report")
    terminalreporter.write_line(f"target {session.base_url} ({s.target_kind}), paywall {s.paywall_id}, "
                                f"{'writes allowed' if s.allow_writes else 'read-only (GET and OPTIONS only)'}, budget "
                                f"{s.budget.name} (cap {s.budget.max_requests} requests), run id {s.run_id}, "
                                f"repeat with --paywall-hypothesis-seed {s.hypothesis_seed}")
    terminalreporter.write_line(render(session.recorder.to_json()))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def contract(pytestconfig: pytest.Config) -> ContractSession:
    session = contract_session.current(pytestconfig)
    session.ready()
    return session


@pytest.fixture(scope="session")
def settings(contract: ContractSession) -> Settings:
    return contract.settings


@pytest.fixture(scope="session")
def api(contract: ContractSession) -> Api:
    return contract.api()


@pytest.fixture(scope="session")
def control(contract: ContractSession) -> Control:
    ctl = contract.control()
    if ctl is None:  # pragma: no cover - emulator_only tests are skipped before fixtures run
        pytest.skip("emulator_only: no control API on this target")
    return ctl


@pytest.fixture(scope="session")
def new_email(settings: Settings) -> Callable[[str], str]:
    """`new_email("tag")` -> a fresh run-tagged address (conform+<run>-<tag><n>@example.com)."""
    counter = itertools.count(1)
    return lambda tag="u": settings.run_email(f"{tag}{next(counter)}")
