"""paywall_emulator.engine.yamlfile: parsed YAML files are cached by content hash; any cache problem means a parse;
a warm read imports no YAML parser."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from paywall_emulator.engine import yamlfile
from paywall_emulator.engine.yamlfile import YamlError, read_yaml_file


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "paywall-emulator"


def test_this_suite_caches_in_a_temporary_folder_never_the_users() -> None:
    """The root conftest.py points XDG_CACHE_HOME at a folder of its own for the session (xdist workers and
    subprocesses inherit it), so running the tests leaves the user's cache folder alone."""
    folder = Path(os.environ["XDG_CACHE_HOME"]).resolve()
    assert folder.is_relative_to(Path(tempfile.gettempdir()).resolve()), folder
    assert folder.name.startswith("paywall-emulator-test-cache-"), folder
    assert not folder.is_relative_to(Path.home().resolve() / ".cache")
    assert yamlfile._entry(yamlfile._digest(b"k: v\n"), "").is_relative_to(folder)


def test_a_read_fills_the_cache_and_a_changed_file_is_read_again(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\nb: [x, y]\n")
    assert read_yaml_file(doc) == {"a": 1, "b": ["x", "y"]}
    [entry] = cache.iterdir()
    assert read_yaml_file(doc) == {"a": 1, "b": ["x", "y"]}  # from the cache
    doc.write_text("a: 2\n")
    assert read_yaml_file(doc) == {"a": 2}  # new bytes, new entry: never stale
    assert len(list(cache.iterdir())) == 2 and entry.exists()


def test_a_corrupt_entry_means_a_parse(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("k: v\n")
    read_yaml_file(doc)
    [entry] = cache.iterdir()
    entry.write_bytes(b"\x00not marshal")
    assert read_yaml_file(doc) == {"k": "v"}


def test_an_unwritable_cache_still_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mkdir under a file fails
    doc = tmp_path / "doc.yaml"
    doc.write_text("k: [1, 2]\n")
    assert read_yaml_file(doc) == {"k": [1, 2]}


def test_values_marshal_cannot_hold_are_parsed_every_time(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("when: 2026-11-23T10:00:00Z\n")
    assert read_yaml_file(doc)["when"].year == 2026
    assert not cache.exists() or not list(cache.iterdir())


def test_bad_yaml_is_a_yaml_error(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: [unclosed\n")
    with pytest.raises(YamlError):
        read_yaml_file(doc)
    assert issubclass(YamlError, ValueError) and yamlfile.parse_yaml("x: 1") == {"x": 1}


def test_a_warm_read_imports_no_yaml_parser(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\n")
    read_yaml_file(doc)
    code = ("import sys; from pathlib import Path; from paywall_emulator.engine.yamlfile import read_yaml_file; "
            f"assert read_yaml_file(Path({str(doc)!r})) == {{'a': 1}}; print('yaml' in sys.modules)")
    env = {"XDG_CACHE_HOME": str(cache.parent), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_derived_value_is_cached_by_name_and_keeps_its_sharing(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: {x: 1}\n")
    calls: list[str] = []

    def pair(name: str) -> Callable[[Any], Any]:
        def derive(document: Any) -> Any:
            calls.append(name)
            inner = {"copy": document["a"]["x"]}
            return {"left": inner, "right": inner}

        return derive

    first = yamlfile.read_yaml_derived(doc, "pair-1", pair("a"))
    again = yamlfile.read_yaml_derived(doc, "pair-1", pair("b"))  # from the cache: derive is not called
    other = yamlfile.read_yaml_derived(doc, "pair-2", pair("c"))  # another name, another entry
    assert calls == ["a", "c"]
    assert first == again == other == ({"a": {"x": 1}}, {"left": {"copy": 1}, "right": {"copy": 1}})
    assert again[1]["left"] is again[1]["right"]  # one object twice stays one object
    assert len(list(cache.iterdir())) == 3  # the document, and one entry per derivation
    doc.write_text("a: {x: 2}\n")
    assert yamlfile.read_yaml_derived(doc, "pair-1", pair("d"))[1]["left"] == {"copy": 2}  # new bytes: derived anew


def test_a_derivation_that_fails_caches_nothing(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\n")

    def broken(document: Any) -> Any:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        yamlfile.read_yaml_derived(doc, "broken-1", broken)
    assert yamlfile.read_yaml_derived(doc, "broken-1", lambda d: d["a"] + 1) == ({"a": 1}, 2)
