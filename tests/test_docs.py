"""Every command in README.md and docs/*.md runs, so the documentation cannot rot.

Each page is followed top to bottom, like a person would, in a fresh folder of its own:
* a `bash` block consisting of `paywall-emulator serve [options]` starts that server (the page's default
  port 8787 is replaced by a free one everywhere on the page); it is stopped when the page is done;
* other `bash` blocks run with `bash -euo pipefail` (the venv's commands first on PATH); what they start
  in the background is stopped after the block;
* a `python`, `yaml`, `ini` or `mjs` block whose first line is a comment naming a file (`# billing.py`) is
  written to that file; other `python` blocks run as scripts; every `yaml` block must parse;
* a `js` block runs in headless Chromium on a page of another origin (so CORS is exercised for real);
* untagged and `text` blocks are sample output and are not run.
A block that cannot run here is preceded by `<!-- not run: why -->`; those are listed in NOT_RUN, so a new
one is a deliberate decision. A `paywall-emulator ...` command that is shown but not run (in such a block, or
inline in the text) must still parse, and the samples of what the CLI prints (README's banner, world.md's
error line) are compared with what it prints.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from paywall_emulator.cli import build_parser, main

from .browser import CHROMIUM, CHROMIUM_ARGS, PLAYWRIGHT, local_site, static_site
from .serving import bundled_banner, free_port

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"(?:<!-- not run: (?P<why>[^>]+?) -->\n)?^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.S | re.M)
SERVE = re.compile(r"^paywall-emulator serve(?: [^&|;#\n]*)?$")
NAMED = re.compile(r"^(?:#|//|;) ([\w.-]+\.(?:py|ya?ml|ini|toml|mjs|json))\s*$")

# (page, first line of the block): blocks that are shown but not run here, each with its reason in the page.
NOT_RUN = {
    ("README.md", "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/paywall-emulator serve"),
    ("README.md", "bash scripts/test"),
    ("javascript.md", "// server/billing.ts"),
    ("paykit.md", "// vite.config.ts"),
    ("paykit.md", '<div id="paykit"></div>'),
    ("paykit.md", "paywall-emulator conform --product paykit --base-url https://your-paykit.example/ \\"),
    ("paywalls-ai.md", 'import OpenAI from "openai";'),
}


@dataclass
class Block:
    page: str
    lang: str
    body: str
    line: int
    why: str | None

    @property
    def first(self) -> str:
        return self.body.splitlines()[0] if self.body.strip() else ""


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page.name, m.group("lang"), m.group("body"), text.count("\n", 0, m.start("body")) + 1, m.group("why"))
            for m in FENCE.finditer(text)]


class Reader:
    """Follows one page: its folder, its port, its server and background processes."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.server: subprocess.Popen[str] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYWALL_", "PYTEST_"))}
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["COLUMNS"] = "200"

    def localise(self, text: str) -> str:
        return text.replace("8787", str(self.port))

    def serve(self, command: str) -> None:
        self.stop_server()
        argv = ["paywall-emulator", *command.split()[1:]]
        if "--port" not in argv:  # the page's default port, 8787, is this reader's port
            argv += ["--port", str(self.port)]
        self.server = subprocess.Popen(argv, cwd=self.folder, env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, start_new_session=True)
        assert self.server.stdout is not None
        banner = self.server.stdout.readline()
        assert banner.startswith("paywall-emulator serving http://"), banner + self.server.stdout.read()

    def stop_server(self) -> None:
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.communicate(timeout=30)
            self.server = None

    def bash(self, script: str, where: str) -> None:
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=self.folder, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # whatever the block left running in the background
        assert proc.returncode == 0, f"{where} exited with {proc.returncode}:\n{script}\n--- output ---\n{out}"

    def python(self, script: str, where: str) -> None:
        done = subprocess.run([sys.executable, "-"], input=script, cwd=self.folder, env=self.env, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, f"{where} failed:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def foreign_origin() -> Iterator[str]:
    """A page on another origin, for the JavaScript examples."""
    with local_site(static_site(lambda _: (b"<!doctype html><title>another origin</title>", "text/html"))) as port:
        yield f"http://127.0.0.1:{port}"


def run_js(script: str, origin: str, where: str) -> None:
    if not PLAYWRIGHT or not Path(CHROMIUM).exists():
        pytest.fail(f"the JavaScript examples need {CHROMIUM} and playwright: run `bash scripts/test`", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(origin)
            page.evaluate(f"async () => {{\n{script}\n}}")
        except Exception as exc:
            exc.add_note(f"{where}:\n{script}")
            raise
        finally:
            browser.close()


def test_the_readme_is_a_short_landing_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    for page in re.findall(r"\]\((docs/[\w.-]+\.md)\)", text):
        assert (ROOT / page).is_file(), page
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in text, f"README does not link {page.name}"


def test_blocks_not_run_are_the_known_ones() -> None:
    found = {(b.page, b.first) for page in PAGES for b in blocks(page) if b.why}
    assert found == NOT_RUN
    runnable = {"bash", "python", "yaml", "ini", "toml", "js", "mjs", "text", ""}
    odd = [(b.page, b.line, b.lang) for page in PAGES for b in blocks(page) if b.lang not in runnable and not b.why]
    assert odd == []


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_fence_is_a_block_the_reader_sees(page: Path) -> None:
    """No code block escapes the extraction: every fence line (indented, `~~~`, or with words after the
    language) opens or closes one of the blocks found, so none is silently left unrun."""
    fences = re.findall(r"^[ \t]*(?:```|~~~)", page.read_text(encoding="utf-8"), re.M)
    assert len(fences) == 2 * len(blocks(page)), f"{page.name}: a code block the reader does not see"
    assert sorted(p.name for p in (ROOT / "docs").rglob("*.md")) == sorted(p.name for p in PAGES[1:])


def test_the_quick_start_commands_are_the_ones_ci_runs() -> None:
    """The README's two commands stay what `.ci/run` and a fresh clone need."""
    shown = {b.first for b in blocks(ROOT / "README.md") if b.why}
    assert "bash scripts/test" in shown
    assert "exec bash scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def shown_commands(page: Path) -> list[str]:
    """The `paywall-emulator ...` command lines a page shows but does not run: inline in the text, and in its
    blocks marked not run (continuation lines joined, comments and `&&` chains split off)."""
    text = page.read_text(encoding="utf-8")
    found = re.findall(r"`((?:\.venv/bin/)?paywall-emulator (?!\w+: )[^`]*)`", text)  # not a quoted message
    for block in blocks(page):
        if block.why and block.lang == "bash":
            for line in block.body.replace("\\\n", " ").splitlines():
                for part in line.split("#", 1)[0].split("&&"):
                    if "paywall-emulator " in part:
                        found.append(part.strip())
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_commands_shown_but_not_run_name_real_options(page: Path) -> None:
    """A command shown in the text or in a block that is not run still parses: a renamed flag or
    subcommand fails here instead of rotting in the page."""
    for command in shown_commands(page):
        argv = shlex.split(command.replace("[", "").replace("]", ""))[1:]  # a synopsis' [optional] parts too
        try:
            build_parser(argv_command=argv[0]).parse_args(argv)
        except SystemExit as exc:
            assert exc.code == 0, f"{page.name}: `{command}` does not parse"  # --help/--version exit 0


def test_the_readme_banner_sample_is_what_serve_prints() -> None:
    [sample] = [b for b in blocks(ROOT / "README.md") if b.lang == "text"]
    printed = bundled_banner()
    shown = sample.body.splitlines()
    assert shown == printed[:len(shown)]


def test_the_world_mistake_sample_is_what_serve_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """docs/world.md quotes the line `serve` prints for an unknown owner in its own my-world.yaml."""
    page = ROOT / "docs" / "world.md"
    said = re.search(r"`(paywall-emulator serve: my-world\.yaml:\d+: .*?'(\w+)')`", page.read_text(encoding="utf-8"))
    assert said is not None
    [world] = [b for b in blocks(page) if b.first == "# my-world.yaml"]
    assert "owner: own_me\n" in world.body
    (tmp_path / "my-world.yaml").write_text(world.body.replace("owner: own_me\n", f"owner: {said.group(2)}\n"),
                                            encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--world", "my-world.yaml", "--port", "0"]) == 2
    assert capsys.readouterr().err == said.group(1) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_command_on_the_page_runs(page: Path, tmp_path: Path, foreign_origin: str) -> None:
    reader = Reader(tmp_path, free_port())
    try:
        for block in blocks(page):
            where = f"{block.page}:{block.line}"
            body = reader.localise(block.body)
            named = NAMED.match(block.first)
            if block.why or block.lang in ("text", ""):
                continue
            if block.lang == "yaml":
                yaml.safe_load(body)
            if named and block.lang in ("python", "yaml", "ini", "toml", "mjs"):
                (tmp_path / named.group(1)).write_text(body, encoding="utf-8")
            elif block.lang == "bash" and SERVE.match(command := body.split("#", 1)[0].strip()):
                reader.serve(command)
            elif block.lang == "bash":
                reader.bash(body, where)
            elif block.lang == "python":
                reader.python(body, where)
            elif block.lang == "js":
                run_js(body, foreign_origin, where)
    finally:
        reader.stop_server()
