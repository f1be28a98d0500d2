"""Build hook: editable installs of the renamed package.

The wheel installs emulator/ as `paywall_emulator` and contract_tests/ inside it (pyproject's
force-include). hatchling cannot rename folders in an editable install, so for one this hook adds a
`.pth` file and a small import finder that map the two installed names onto the checkout's folders:
the code runs from the checkout, under the installed names only (module files keep their real paths).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_FINDER = '''
import importlib.abc, importlib.util, os, sys
class PaywallEmulatorEditableFinder(importlib.abc.MetaPathFinder):
    packages = {packages!r}
    def find_spec(self, name, path=None, target=None):
        folder = self.packages.get(name)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
if not any(type(f).__name__ == "PaywallEmulatorEditableFinder" for f in sys.meta_path):
    sys.meta_path.insert(0, PaywallEmulatorEditableFinder())
'''


class EditableNamesHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "editable-names"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version != "editable":
            return
        root = Path(self.root).resolve()
        packages = {"paywall_emulator": str(root / "emulator"),
                    "paywall_emulator.contract_tests": str(root / "contract_tests")}
        pth = Path(tempfile.mkdtemp(prefix="paywall-emulator-editable-")) / "_paywall_emulator_editable.pth"
        pth.write_text(f"import sys; exec({_FINDER.format(packages=packages)!r}, {{}})\n", encoding="utf-8")
        build_data["force_include_editable"][str(pth)] = pth.name
