"""paywall-emulator (installed as `paywall_emulator`): a local, stateful, spec-driven emulator of billing APIs.

Public API: `create_app` and `EmulatorConfig` to embed the server; `paywall_emulator.testing` for
threaded servers, the control client and webhook receivers; the `paywall_*` pytest fixtures.

`create_app` is imported on first use (PEP 562): the pytest11 plugin `paywall_emulator.pytest_plugin` loads into
every pytest session of a project that installed the package, and importing it must not import aiohttp
or compile the specs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EmulatorConfig

if TYPE_CHECKING:
    from .app import create_app

__version__ = "0.1.0"
__all__ = ["EmulatorConfig", "__version__", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
