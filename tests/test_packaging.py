"""The wheel a user installs, built once from this checkout with pip (the hatchling backend of pyproject.toml):
one import package, `paywall_emulator` (the contract suite inside it), carrying the specs and the world file the
emulator reads at run time, the contract suite's own copy of the spec and the pytest settings `conform` passes
with `-c`, `py.typed`, the `paywall-emulator` console script, both `pytest11` plugins and the `contract` extra
that `conform`'s install hint names. Installed beside a project with its own `emulator` and `contract_tests`
packages, the plugin and `conform` still work, and so does `conform` run from this checkout's root.

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
# Builds and installs the wheel and runs pytest and `conform` from it: left out of the inner loop (-m "not slow").
pytestmark = pytest.mark.slow
# Path in the wheel -> the file of this checkout it is a copy of.
DATA_FILES = {
    **{f"paywall_emulator/_data/spec/{p.name}": p for p in sorted((ROOT / "spec").glob("*.openapi.yaml"))},
    "paywall_emulator/_data/fixtures/default.yaml": ROOT / "fixtures" / "default.yaml",
    "paywall_emulator/contract_tests/_data/monetize.openapi.yaml": ROOT / "spec" / "monetize.openapi.yaml",
    "paywall_emulator/contract_tests/conform.ini": ROOT / "contract_tests" / "conform.ini",
    "paywall_emulator/py.typed": ROOT / "emulator" / "py.typed",
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
    assert {"paywall_emulator/__init__.py", "paywall_emulator/cli.py", "paywall_emulator/conform.py",
            "paywall_emulator/pytest_plugin.py", "paywall_emulator/engine/world.py",
            "paywall_emulator/products/monetize/__init__.py", "paywall_emulator/contract_tests/__init__.py",
            "paywall_emulator/contract_tests/conftest.py", "paywall_emulator/contract_tests/plugin.py"} <= names
    assert {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")} == {"paywall_emulator"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {"paywall-emulator": "paywall_emulator.cli:main"}
    assert dict(entry_points["pytest11"]) == {"paywall_emulator": "paywall_emulator.pytest_plugin",
                                              "paywall_contract": "paywall_emulator.contract_tests.plugin"}

    metadata = Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert "contract" in (metadata.get_all("Provides-Extra") or []), metadata.get_all("Provides-Extra")
    contract_requirements = [r for r in metadata.get_all("Requires-Dist") or []
                             if re.search(r"""extra\s*==\s*["']contract["']""", r)]
    for dependency in ("schemathesis", "hypothesis", "pytest", "requests"):
        assert any(r.startswith(dependency) for r in contract_requirements), (dependency, contract_requirements)


DOWNSTREAM_TEST = """
import emulator
import contract_tests


def test_own_packages_and_the_plugin(paywall_emulator):
    assert emulator.OWN and contract_tests.OWN
    assert paywall_emulator.api_key.startswith("sk_emulator_")
"""


@pytest.fixture(scope="module")
def installed(wheel: zipfile.ZipFile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the unpacked wheel; its dependencies come from this environment's site-packages
    through a plain path line (which runs no `.pth` file there, so this checkout's editable install stays out)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    wheel.extractall(site)
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "aiohttp").is_dir())
    (site / "dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    return python


def _run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("PAYWALL_", "PYTEST_"))}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_a_project_with_its_own_emulator_and_contract_tests_packages(installed: Path, tmp_path: Path) -> None:
    for package in ("emulator", "contract_tests"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("OWN = True\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_downstream.py").write_text(DOWNSTREAM_TEST, encoding="utf-8")
    where = _run(installed, tmp_path, "-c", "import paywall_emulator; print(paywall_emulator.__file__)")
    assert where.returncode == 0 and "site-packages" in where.stdout and str(ROOT) not in where.stdout, where
    plugin = _run(installed, tmp_path, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert plugin.returncode == 0 and "1 passed" in plugin.stdout, plugin.stdout + plugin.stderr
    conform = _run(installed, tmp_path, "-m", "paywall_emulator", "conform", "--budget", "quick", "-k", "bootstrap")
    assert conform.returncode == 0 and "PASSED" in conform.stdout, conform.stdout + conform.stderr


def test_conform_runs_from_the_root_of_this_checkout(installed: Path) -> None:
    """This checkout's own `emulator/` and `contract_tests/` folders sit in the current directory."""
    conform = _run(installed, ROOT, "-m", "paywall_emulator", "conform", "--budget", "quick", "-k", "bootstrap")
    assert conform.returncode == 0 and "PASSED" in conform.stdout, conform.stdout + conform.stderr
