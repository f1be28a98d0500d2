"""The wheel a user installs, built once from this checkout with pip (the hatchling backend of pyproject.toml):
it carries the specs and the fixtures the emulator reads at run time, the contract suite's own copy of the spec
and the pytest settings `conform` passes with `-c`, the `paywall-emulator` console script, both `pytest11`
plugins and the `contract` extra that `conform`'s install hint names.

One build for the whole module, in one test, so pytest-xdist never builds it twice. Offline when hatchling is
installed in the environment (`--no-build-isolation`); otherwise pip fetches the build backend first.
"""

from __future__ import annotations

import configparser
import importlib.util
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Path in the wheel -> the file of this checkout it is a copy of.
DATA_FILES = {
    "emulator/_data/spec/monetize.openapi.yaml": ROOT / "spec" / "monetize.openapi.yaml",
    "emulator/_data/spec/control.openapi.yaml": ROOT / "spec" / "control.openapi.yaml",
    "emulator/_data/fixtures/default.yaml": ROOT / "fixtures" / "default.yaml",
    "contract_tests/_data/monetize.openapi.yaml": ROOT / "spec" / "monetize.openapi.yaml",
    "contract_tests/conform.ini": ROOT / "contract_tests" / "conform.ini",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(out)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-build-isolation")
    done = subprocess.run([*cmd, str(ROOT)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    built = sorted(out.glob("paywall_emulator-*.whl"))
    assert len(built) == 1, [p.name for p in out.iterdir()]
    with zipfile.ZipFile(built[0]) as archive:
        yield archive


def _dist_info(archive: zipfile.ZipFile, name: str) -> str:
    matches = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}") and n.count("/") == 1]
    assert len(matches) == 1, (name, matches)
    return archive.read(matches[0]).decode("utf-8")


def test_the_wheel_carries_data_files_console_script_plugins_and_the_contract_extra(
        wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    missing = [path for path in DATA_FILES if path not in names]
    assert not missing, f"the wheel lacks {missing}"
    stale = [path for path, source in DATA_FILES.items() if wheel.read(path) != source.read_bytes()]
    assert not stale, f"the wheel's copies differ from the checkout: {stale}"
    assert {"emulator/__init__.py", "emulator/cli.py", "emulator/conform.py", "emulator/pytest_plugin.py",
            "contract_tests/__init__.py", "contract_tests/conftest.py", "contract_tests/plugin.py"} <= names

    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {"paywall-emulator": "emulator.cli:main"}
    assert dict(entry_points["pytest11"]) == {"paywall_emulator": "emulator.pytest_plugin",
                                              "paywall_contract": "contract_tests.plugin"}

    metadata = Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert "contract" in (metadata.get_all("Provides-Extra") or []), metadata.get_all("Provides-Extra")
    contract_requirements = [r for r in metadata.get_all("Requires-Dist") or []
                             if re.search(r"""extra\s*==\s*["']contract["']""", r)]
    for dependency in ("schemathesis", "hypothesis", "pytest", "requests"):
        assert any(r.startswith(dependency) for r in contract_requirements), (dependency, contract_requirements)
