"""The mistakes a newcomer makes with the command line each end in one line on stderr naming what to fix,
exit status 2 (argparse's own for a bad flag) and no traceback: for `serve`, a busy port, a missing world
file, YAML that does not parse, a world naming an unknown owner, a misspelt key; for `conform`, an
unreachable or refusing target, a missing or malformed --spec file, a bad option value, a report path it
cannot write. Also: the CLI's own surface (--version, help texts with defaults, the banner only once the
socket listens)."""

from __future__ import annotations

import gc
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from paywall_emulator import __version__, cli, conform
from paywall_emulator.app import bundled_products
from paywall_emulator.cli import build_parser, main
from paywall_emulator.testing import ThreadedEmulator

from .conftest import ACME_KEY

ROOT = Path(__file__).resolve().parents[1]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def world_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "world.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def bundled_world() -> str:
    return (ROOT / "fixtures" / "default.yaml").read_text(encoding="utf-8")


def test_a_missing_world_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["serve", "--world", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and out == ""
    assert one_line(err) == (f"paywall-emulator serve: world file {tmp_path / 'nope.yaml'} does not exist (--world "
                             "takes a YAML file; leave it out to serve the bundled world)")


def test_yaml_that_does_not_parse_names_file_line_and_column(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = world_with(tmp_path, "monetize:\n  owners:\n    - id: a\n     name: b\n")
    code, out, err = run_main(["serve", "--world", str(path)], capsys)
    assert code == 2 and out == ""
    assert one_line(err) == (f"paywall-emulator serve: {path}:4:6: not valid YAML: did not find expected '-' "
                             "indicator (while parsing a block collection)")


def test_an_unknown_owner_names_the_line_of_the_paywall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    studio = "owner: own_acme\n      name: Acme Studio"
    text = bundled_world().replace(studio, studio.replace("own_acme", "own_acmee"))
    path = world_with(tmp_path, text)
    line = 1 + text.splitlines().index('    - id: "7"')
    code, _, err = run_main(["serve", "--world", str(path)], capsys)
    assert code == 2
    assert one_line(err) == f"paywall-emulator serve: {path}:{line}: monetize.paywalls[1]: unknown owner 'own_acmee'"


def test_a_misspelt_key_or_section_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = bundled_world().replace("  paywalls:", "  paywals:", 1)
    path = world_with(tmp_path, text)
    code, _, err = run_main(["serve", "--world", str(path)], capsys)
    assert code == 2
    assert one_line(err) == (f"paywall-emulator serve: {path}:{1 + text.splitlines().index('  paywals:')}: "
                             "monetize.paywals: unknown key in the monetize section (it has owners, paywalls, users)")
    path = world_with(tmp_path, "# a comment\nmonetise:\n  owners: []\n")
    code, _, err = run_main(["serve", "--world", str(path)], capsys)
    assert code == 2
    assert one_line(err) == (f"paywall-emulator serve: {path}:2: monetise: unknown section of the world document; "
                             f"sections are product names: {', '.join(p.name for p in bundled_products())}")


def test_a_busy_port_is_one_line_before_any_banner(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_main(["serve", "--port", str(port)], capsys)
    assert code == 2 and out == ""  # no "serving ..." banner for a server that never served
    assert one_line(err) == (f"paywall-emulator serve: port {port} on 127.0.0.1 is already in use (another "
                             "paywall-emulator?); stop that process or pick another port with --port")


@pytest.mark.parametrize(("args", "said"), [
    (["--port", "99999"], "--port takes a port from 1 to 65535 (0 picks a free one), got 99999"),
    (["--port", "-5"], "--port takes a port from 1 to 65535 (0 picks a free one), got -5"),
    (["--public-origin", "emulator:8787"], "--public-origin takes the origin clients use, scheme and host with an "
                                           "optional port (e.g. http://emulator:8787), got 'emulator:8787'"),
    (["--public-origin", "http://emulator:8787/api"], "--public-origin takes the origin clients use, scheme and host "
                                                      "with an optional port (e.g. http://emulator:8787), got "
                                                      "'http://emulator:8787/api'"),
    (["--public-origin", "http://emulator:port"], "--public-origin takes the origin clients use, scheme and host "
                                                  "with an optional port (e.g. http://emulator:8787), got "
                                                  "'http://emulator:port'"),
    (["--world", "{tmp}"], "world file {tmp} is a folder; --world takes a YAML file"),
], ids=["port too high", "negative port", "origin without scheme", "origin with a path", "origin bad port",
        "world is a folder"])
def test_serve_refuses_a_bad_port_origin_or_world_path(args: list[str], said: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: --port 99999 served on port 34463 (the number modulo 65536), --port -5 blamed --host, any text
    was taken as the public origin and printed as the URL, and a folder given as --world "did not exist"."""
    def no_listening(host: str, port: int) -> None:
        raise AssertionError("refused only after binding a socket")

    monkeypatch.setattr(cli, "listen", no_listening)
    code, out, err = run_main(["serve", *[a.format(tmp=tmp_path) for a in args]], capsys)
    assert (code, out) == (2, "")
    assert one_line(err) == "paywall-emulator serve: " + said.format(tmp=tmp_path)


def test_a_public_origin_may_end_with_a_slash() -> None:
    from paywall_emulator.cli import is_origin

    assert is_origin("http://emulator:8787") and is_origin("https://billing.example/")
    assert not is_origin("ftp://x") and not is_origin("http://") and not is_origin("http://u:p@host")
    assert not is_origin("http://a b:8787") and not is_origin("http://exa\nmple.com") and not is_origin("http://h:0")


def test_an_unknown_spec_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["spec", "nope"], capsys)
    assert code == 2 and out == ""
    assert one_line(err).startswith("paywall-emulator spec: unknown document 'nope'; one of control, public, monetize, "
                                    "monetize.control")
    code, out, _ = run_main(["spec", "control"], capsys)
    assert code == 0 and Path(out.strip()).name == "control.openapi.yaml"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with ThreadedEmulator() as emu:
        yield emu.base_url


@pytest.mark.parametrize(("args", "said"), [
    (["--base-url", "http://127.0.0.1:9", "--api-key", ACME_KEY, "--paywall-id", "3"],
     "cannot reach http://127.0.0.1:9 (Connection refused); is it running, and is --base-url right?"),
    (["--api-key", "sk_wrong", "--paywall-id", "3"],
     "{url} refused the API key (401 invalid_api_key); check --api-key"),
    (["--api-key", ACME_KEY, "--paywall-id", "40"],
     "the API key's owner does not own paywall 40 (403 forbidden); check --api-key and --paywall-id"),
    (["--api-key", ACME_KEY, "--paywall-id", "99"],
     "{url} has no paywall 99 (its bootstrap and user reads answer 404); check --paywall-id and --base-url"),
    (["--base-url", "http://127.0.0.1:9"],
     "a real target needs --api-key and --paywall-id (or PAYWALL_API_KEY, PAYWALL_ID)"),
], ids=["dead target", "wrong key", "foreign paywall", "unknown paywall", "no key"])
def test_conform_refuses_a_target_in_one_line_naming_its_flags(
        args: list[str], said: str, served: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("PAYWALL_")]:
        monkeypatch.delenv(var)
    if "--base-url" not in args:
        args = ["--base-url", served, *args]
    code = conform.main(args)
    out, err = capsys.readouterr()
    assert code == conform.USAGE_ERROR == 2
    assert one_line(err) == "paywall-emulator conform: " + said.format(url=served)
    assert "--paywall-" not in err.replace("--paywall-id", "") and "Traceback" not in out


@pytest.mark.parametrize(("dead", "flag"), [("--base-url", "--reference-url"), ("--reference-url", "--base-url")])
def test_diff_names_the_target_it_cannot_reach(dead: str, flag: str, served: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["diff", dead, "http://127.0.0.1:9", flag, served, "--api-key", ACME_KEY], capsys)
    assert (code, out) == (2, "")
    assert one_line(err) == (f"paywall-emulator diff: cannot reach http://127.0.0.1:9 (Connection refused); is it "
                             f"running, and is {dead} right?")


@pytest.mark.parametrize(("args", "said"), [
    (["--spec", "{tmp}/nope.yaml"],
     "--spec {tmp}/nope.yaml: no such file (leave it out to test against the bundled document)"),
    (["--spec", "{tmp}/bad.yaml"], "--spec {tmp}/bad.yaml:3:14: not valid YAML: did not find expected node content "
                                   "(while parsing a flow node)"),
    (["--spec", "{tmp}/unnamed.yaml"], "--spec {tmp}/unnamed.yaml: GET /a has no operationId (the suite names every "
                                       "operation by it)"),
    (["--spec", "{tmp}/list.yaml"], "--spec {tmp}/list.yaml: not an OpenAPI document (it needs `openapi` and `paths`)"),
    (["--hypothesis-seed", "abc"], "--hypothesis-seed takes a whole number, got 'abc'"),
    (["--rate-limit", "20 per second"], "--rate-limit takes requests per unit, like 20/s, 600/m, 1000/h or 5000/d "
                                        "(or none), got '20 per second'"),
    (["--budget", "fast"], "unknown budget 'fast'; choose one of quick, default, thorough"),
    (["--report-json", "{tmp}/a-file/report.json"], "--report-json {tmp}/a-file/report.json: {tmp}/a-file is a "
                                                    "file, not a folder"),
    (["--report-json", "{tmp}"], "--report-json {tmp} is a folder; name the file to write"),
    (["--junit-xml", "{tmp}/a-file/x/junit.xml"], "--junit-xml {tmp}/a-file/x/junit.xml: {tmp}/a-file is a file, "
                                                  "not a folder"),
], ids=["missing spec", "bad YAML spec", "no operationId", "not OpenAPI", "bad seed", "bad rate", "bad budget",
        "report under a file", "report is a folder", "junit under a file"])
def test_conform_refuses_bad_files_and_values_before_starting_anything(
        args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-thread target (no --base-url): refused before the emulator starts or pytest runs, so nothing
    is printed on stdout."""
    for var in [v for v in os.environ if v.startswith("PAYWALL_")]:
        monkeypatch.delenv(var)
    (tmp_path / "bad.yaml").write_text("openapi: 3.1.0\npaths:\n  /a: {get: [}\n", encoding="utf-8")
    (tmp_path / "unnamed.yaml").write_text("openapi: 3.1.0\npaths:\n  /a: {get: {}}\n", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- openapi\n- paths\n", encoding="utf-8")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    code = conform.main([a.format(tmp=tmp_path) for a in args])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert one_line(err) == "paywall-emulator conform: " + said.format(tmp=tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["a-file", "bad.yaml", "list.yaml", "unnamed.yaml"]  # the test's own files, nothing more


def test_the_cli_surface(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"paywall-emulator {__version__}\n"
    parser = build_parser()
    serve = parser._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    helps = {a.dest: a.help or "" for a in serve._actions if a.dest != "help"}
    assert "default: 8787" in helps["port"] and "default: 127.0.0.1" in helps["host"]
    assert all("default" in text for name, text in helps.items()), helps
    suite = parser._subparsers._group_actions[0].choices["conform"]  # type: ignore[union-attr]
    text = suite.format_help()
    for var in ("PAYWALL_BASE_URL", "PAYWALL_API_KEY", "PAYWALL_ID", "PAYWALL_ALLOW_WRITES", "PAYWALL_REPORT"):
        assert var in text
    assert "--paywall-" not in text.replace("--paywall-id", "")  # the CLI's own flag names only
    # conform's options too: each says its default (the positional test names aside)
    helps = {a.dest: a.help or "" for a in suite._actions if a.dest not in ("help", "pytest_args")}
    assert [name for name, text in helps.items() if "(default: " not in text] == []
    # the variables table is two aligned columns: every variable of the suite, each with its flag
    table = text.split("(a flag wins over its variable):\n")[1].split("\nExit status")[0].splitlines()
    assert len(table) == len(conform.VALUE_FLAGS) + len(conform.SWITCHES) + 1
    assert len({len(re.match(r"  \S+ +", line).group(0)) for line in table}) == 1, table  # type: ignore[union-attr]
    assert "  PAYWALL_REPORT            --report-json" in table
    assert "2 refused before testing" in text


def test_conform_names_its_flags_in_the_suite_texts() -> None:
    assert conform.cli_names("needs --paywall-email: a user; pass --paywall-allow-writes or --paywall-control") == (
        "needs --email: a user; pass --allow-writes or --control")
    assert conform.cli_names("--paywall-id and --paywall-report and --paywall-unknown") == (
        "--paywall-id and --report-json and --paywall-unknown")


@pytest.mark.slow
def test_serve_announces_only_a_listening_socket_and_a_second_one_fails_cleanly(tmp_path: Path) -> None:
    """Through the real entry point: the banner's URL answers at once, and a second `serve` on the same port
    says so in one line with exit status 2 (and prints no banner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWALL_")}
    command = [sys.executable, "-m", "paywall_emulator", "serve", "--port"]
    with subprocess.Popen([*command, "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as first:
        try:
            assert first.stdout is not None
            headline = first.stdout.readline()
            found = re.fullmatch(r"paywall-emulator serving (http://127\.0\.0\.1:(\d+))\n", headline)
            assert found, headline
            assert requests.get(found.group(1) + "/_emulator/health", timeout=10).json()["status"] == "ok"
            second = subprocess.run([*command, found.group(2)], cwd=tmp_path, env=env, capture_output=True,
                                    text=True, timeout=120)
        finally:
            first.terminate()
            first.wait(timeout=30)
    assert second.returncode == 2 and second.stdout == ""
    assert one_line(second.stderr).startswith(f"paywall-emulator serve: port {found.group(2)} on 127.0.0.1 is "
                                              "already in use")


def test_world_errors_reach_the_control_api_unchanged(tmp_path: Path) -> None:
    """The file:line form is only the command line's: a world loaded over HTTP keeps the product's own
    message (the entry, no file)."""
    doc = yaml.safe_load(bundled_world())
    doc["monetize"]["paywalls"][1]["owner"] = "own_nobody"
    with ThreadedEmulator() as emu:
        resp = requests.post(emu.base_url + "/_emulator/world", json=doc, timeout=10)
    assert resp.status_code == 400 and resp.json()["message"] == "paywalls[1]: unknown owner 'own_nobody'"


@pytest.mark.parametrize("enabled", [True, False])
def test_a_refused_start_leaves_the_collector_as_it_found_it(enabled: bool, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`serve` pauses the cyclic collector while it builds the app; a start it refuses gives it back."""
    before = gc.isenabled()
    gc.enable() if enabled else gc.disable()
    try:
        code, _, err = run_main(["serve", "--world", str(world_with(tmp_path, "monetize:\n  owners: 3\n"))], capsys)
        assert (code, gc.isenabled(), gc.get_freeze_count()) == (2, enabled, 0)
        assert "'owners' must be a list" in err
    finally:
        gc.enable() if before else gc.disable()
