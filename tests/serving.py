"""`paywall-emulator serve` in its own process, as a user starts it, for the tests that need the real entry
point: a free port, the child's output in a log file, the wait for its first health answer, and the stop;
and the banner `serve` prints for the bundled world."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

SERVE = [sys.executable, "-m", "paywall_emulator", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_env(*drop: str) -> dict[str, str]:
    """This process's environment without the emulator's own variables (`PAYWALL_*`) and any `drop` prefix."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PAYWALL_", *drop))}


def start_serve(*args: str, port: int, log: Path, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`serve --port PORT ARGS`, its output appended to `log`; returns once its health check answers 200
    (within 30 s; else the process is killed and the assertion shows the log)."""
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([*SERVE, "--port", str(port), *args], cwd=cwd, env=env or user_env(),
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.05)
    why = f"exited with status {proc.returncode}" if proc.poll() is not None else "did not answer within 30 s"
    proc.kill()
    proc.wait()
    raise AssertionError(f"serve {why}:\n{log.read_text(encoding='utf-8', errors='replace')}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


@contextmanager
def serving(*args: str, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """A served emulator for the `with` block: its local URL (`http://127.0.0.1:PORT`)."""
    port = free_port()
    proc = start_serve(*args, port=port, log=log, cwd=cwd, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def bundled_banner() -> list[str]:
    """The lines of the start-up banner `serve` prints for the bundled world (on port 8787, no token)."""
    from paywall_emulator.app import create_app
    from paywall_emulator.cli import banner
    from paywall_emulator.config import EmulatorConfig
    from paywall_emulator.engine.keys import WORLD_KEY

    world = create_app(EmulatorConfig())[WORLD_KEY]
    return banner("http://127.0.0.1:8787", "", [(p.title, p.banner(world.states[p.name])) for p in world.products])
