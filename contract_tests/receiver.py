"""A loopback webhook receiver for the `emulator_only` webhook tests: a plain HTTP server in a thread that
keeps every POST (headers and the exact body bytes) and answers 200. No `emulator` import.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT_SECONDS = 15


@dataclass(slots=True)
class Delivery:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A loopback HTTP server that keeps every POST it gets and answers 200."""

    def __init__(self) -> None:
        self.got: queue.Queue[Delivery] = queue.Queue()
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got.put(Delivery(headers={k.lower(): v for k, v in self.headers.items()}, body=body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="conform-webhooks", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next(self) -> Delivery:
        try:
            return self.got.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no webhook delivery reached {self.url} within {WAIT_SECONDS} s") from None

    def until(self, count: int) -> list[Delivery]:
        """The next `count` deliveries, in arrival order."""
        return [self.next() for _ in range(count)]
