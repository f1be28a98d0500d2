"""Session setup for this repository's own tests (tests/ and contract_tests/): the YAML parse cache goes to a
temporary folder for the session, never to the user's cache folder.

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


def pytest_unconfigure(config: pytest.Config) -> None:
    if (owned := config.stash.get(_OWNED, None)) is None:
        return
    folder, previous = owned
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous
