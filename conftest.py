"""Session setup for this repository's own tests (tests/ and contract_tests/): the YAML parse cache goes to a
temporary folder for the session, never to the user's cache folder; the slow tests are started first.

`XDG_CACHE_HOME` is set before any test runs; pytest-xdist workers and every subprocess a test starts
inherit it, so they share the session's cache. The folder is removed when the session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_OWNED = pytest.StashKey[tuple[str, str | None]]()  # (the session's folder, the value it replaced)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: it inherited the controller's folder
        return
    folder = tempfile.mkdtemp(prefix="paywall-emulator-test-cache-")
    config.stash[_OWNED] = (folder, os.environ.get("XDG_CACHE_HOME"))
    os.environ["XDG_CACHE_HOME"] = folder


@pytest.hookimpl(trylast=True)  # after tests/conftest.py has marked the Chromium tests slow
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` (another interpreter, Chromium, a build: seconds to half a minute each) run first,
    in their collected order: under pytest-xdist the short tests then fill both workers at the end, instead
    of a long test started last running alone on one core while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if (owned := config.stash.get(_OWNED, None)) is None:
        return
    folder, previous = owned
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous
