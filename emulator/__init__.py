"""paywall-emulator: a local, stateful, spec-driven emulator of the monetize.software billing API.

Public API: `create_app` and `EmulatorConfig` to embed the server; `emulator.testing` for
threaded servers, the control client and webhook receivers; the `paywall_*` pytest fixtures.
"""

from __future__ import annotations

from .app import create_app
from .config import EmulatorConfig

__version__ = "0.1.0"
__all__ = ["EmulatorConfig", "__version__", "create_app"]
