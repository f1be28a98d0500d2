"""Shared pieces of the tests that drive a real headless Chromium (Debian's /usr/bin/chromium through
Playwright): the module-scoped `browser` fixture (one Chromium per test module; a session-scoped sync
Playwright would keep its event loop marked running and break the aiohttp tests that follow), the
`page` fixture, and `local_site` / `static_site` for the small local sites the pages navigate to or from.

A test module imports the fixtures it uses (`from .browser import browser, page`); tests/conftest.py
marks every test using `browser` as slow. Chromium and Playwright are required, never skipped."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # reported by the `browser` fixture: every browser test fails, none is skipped
    PLAYWRIGHT = False
else:
    PLAYWRIGHT = True

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = [what for what, ok in [(CHROMIUM, os.access(CHROMIUM, os.X_OK)),
                                     ("the playwright package", PLAYWRIGHT)]
               if not ok]
    if missing:
        pytest.fail(f"the browser test needs {' and '.join(missing)}: run `bash scripts/test`, which installs "
                    "Debian's chromium and the `test` extra (playwright)", pytrace=False)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def new_context(browser: Browser, *, javascript: bool = True) -> BrowserContext:
    """A fresh browser context (its own cookies and storage) with the tests' timeouts."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(java_script_enabled=javascript)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = new_context(browser)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def local_site(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler` served on 127.0.0.1 from a thread, for the duration; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="local-site", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def static_site(render: Callable[[str], tuple[bytes, str]]) -> type[BaseHTTPRequestHandler]:
    """A handler answering every GET with `render(path)` (body, content type), and logging nothing."""

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, content_type = render(self.path)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Site


HTML = "text/html; charset=utf-8"
