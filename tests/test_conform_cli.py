"""`paywall-emulator conform` and the contract suite as a user runs them: against the in-thread emulator
and against `paywall-emulator serve` in a subprocess (as at staging), with the quick budget; a URL
without `--allow-writes` sends only GETs; writes are refused on a live-mode paywall; plain
`pytest --pyargs contract_tests` from another directory ignores a stray `schemathesis.toml`; and the
pieces (settings from `PAYWALL_*`, `curl` redaction, the SDK's code rule, the report table).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from aiohttp import web

import paywall_emulator.testing.harness as harness_module
from paywall_emulator.app import create_app
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.contract_tests.client import curl, sdk_code
from paywall_emulator.contract_tests.reporting import Recorder, render
from paywall_emulator.contract_tests.settings import from_options
from paywall_emulator.products.monetize.state import store_of
from paywall_emulator.testing import ThreadedEmulator

from .serving import serving, user_env

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
ACME_KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
TARGET_ARGS = ["--api-key", ACME_KEY, "--paywall-id", "3", "--email", "alice@example.com", "--other-id", "7",
               "--foreign-id", "40", "--tokenized-id", "15", "--freemius-id", "12",
               "--provider-id", "3f6c1a52-7d2e-4b8f-9a10-5c4e2b7d9f01"]


def run(args: list[str], cwd: Path, *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=user_env(),
                          timeout=timeout, check=False)


def conform(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["-m", "paywall_emulator", "conform", "--budget", "quick", "--hypothesis-seed", "3", *args], cwd)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`paywall-emulator serve` on a free port, in its own process."""
    with serving(log=tmp_path / "serve.log", cwd=tmp_path) as url:
        yield url


def _junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    return {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}


@pytest.mark.slow
def test_conform_passes_on_the_in_thread_emulator(tmp_path: Path) -> None:
    """The CLI's report on a passing in-thread run. A part of the suite is enough here: the whole suite runs
    in-process in this test session (contract_tests/), and in full through the CLI in docs/conformance.md."""
    junit = tmp_path / "conform.xml"
    done = conform(tmp_path, "--junit-xml", str(junit), "-k", "bootstrap or start or behaviour_balances")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "in-thread emulator" in out and "at most 2000 requests" in out
    assert "[  1/" in out and "ok   test_conformance::test_operation[GET /api/v1/paywall/{id}/bootstrap]" in out
    assert "failures by check" in out and "POST /api/v1/paywall/{id}/start-checkout" in out
    assert "PASSED:" in out and "skipped" not in out.split("PASSED:")[-1]
    counts = _junit_counts(junit)
    assert counts["tests"] >= 10 and counts["failures"] == counts["errors"] == counts["skipped"] == 0, counts
    # Hypothesis' unicode tables go to the user's cache folder (reused by the next run), nothing to the cwd
    assert not (tmp_path / ".hypothesis").exists()
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        assert (Path(os.environ["XDG_CACHE_HOME"]) / "paywall-emulator" / "hypothesis" / "unicode_data").is_dir()


@pytest.mark.slow
def test_conform_passes_on_a_served_emulator_as_on_staging(tmp_path: Path, served: str) -> None:
    report = tmp_path / "report.json"
    # No request rate cap (20/s by default for a URL): the target is a local emulator, and the default is
    # checked in test_settings_come_from_paywall_variables and exercised by docs/conformance.md.
    done = conform(tmp_path, "--base-url", served, *TARGET_ARGS, "--allow-writes", "--rate-limit", "none",
                   "--report-json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert data["meta"]["kind"] == "real deployment" and data["failures"] == []
    # Only the tests that need the control plane are skipped, each saying what it would need.
    assert data["skips"] and all(reason.startswith("emulator_only: needs ") for reason in data["skips"])
    assert "webhook endpoint registered through POST /_emulator/webhooks/endpoints" in done.stdout
    assert ACME_KEY not in done.stdout
    # Skip reasons name this command's flags, not the pytest options; the report's path is echoed.
    assert "or pass --control" in done.stdout and "--paywall-" not in done.stdout.replace("--paywall-id", "")
    assert f"JSON report: {report}\n" in done.stdout


@pytest.fixture
def recording_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """An emulator that logs the method and path of every request it receives."""
    seen: list[tuple[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append((request.method, request.path))
        return await handler(request)  # type: ignore[no-any-return]

    def build(config: EmulatorConfig | None = None) -> web.Application:
        app = create_app(config)
        app.middlewares.insert(0, record)
        return app

    monkeypatch.setattr(harness_module, "create_app", build)
    with ThreadedEmulator() as emu:
        yield emu.base_url, seen


@pytest.mark.slow
def test_a_run_without_allow_writes_sends_only_reads(
        tmp_path: Path, recording_emulator: tuple[str, list[tuple[str, str]]]) -> None:
    url, seen = recording_emulator
    done = conform(tmp_path, "--base-url", url, *TARGET_ARGS, "--rate-limit", "none")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "read-only: GET requests and CORS preflights only" in done.stdout
    assert seen, "nothing reached the target"
    assert {method for method, _ in seen} == {"GET", "OPTIONS"}, sorted({m for m, _ in seen})  # OPTIONS: preflights
    assert not [path for _, path in seen if path.startswith("/_emulator")]
    assert "writes: creates or changes objects on the target" in done.stdout


@pytest.mark.slow
def test_writes_are_refused_on_a_live_mode_paywall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = yaml.safe_load((ROOT / "fixtures" / "default.yaml").read_text())
    for paywall in seed["monetize"]["paywalls"]:
        if paywall["id"] == "3":
            paywall["test_mode"] = False
    fixtures = tmp_path / "live.yaml"
    fixtures.write_text(yaml.safe_dump(seed))
    with ThreadedEmulator(EmulatorConfig(world=fixtures)) as emu:
        done = conform(tmp_path, "--base-url", emu.base_url, *TARGET_ARGS, "--allow-writes")
        sent = store_of(emu.world)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--allow-writes refused: paywall 3 reports settings.is_test_mode=False" in done.stderr
    assert not [u for u in sent.users.values() if (u.email or "").startswith("conform+")]


@pytest.mark.slow
def test_a_real_target_needs_a_key_and_a_paywall(tmp_path: Path) -> None:
    done = conform(tmp_path, "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "needs --api-key and --paywall-id" in done.stderr


@pytest.mark.slow
def test_plain_pytest_from_another_directory_ignores_a_stray_schemathesis_toml(tmp_path: Path) -> None:
    (tmp_path / "schemathesis.toml").write_text('base-url = "${CONFORM_UNSET_VARIABLE}"\n[generation]\nmode = "x"\n')
    with ThreadedEmulator() as emu:
        done = run(["-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "paywall_emulator.contract_tests", "-q",
                    "--paywall-base-url", emu.base_url, "--paywall-api-key", ACME_KEY, "--paywall-id", "3",
                    "--paywall-budget", "quick", "-k", "bootstrap or identity_required"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout and "paywall contract report" in done.stdout


REPEATED_RUNS = """
import json, sys
from paywall_emulator.conform import main
from paywall_emulator.testing import ThreadedEmulator

target_args, out = json.loads(sys.argv[1]), {}
for name in ("first", "second"):
    with ThreadedEmulator() as emu:  # each run's target is stopped before the next run starts
        code = main(["--base-url", emu.base_url, *target_args, "--report-json", f"{name}.json"])
    out[name] = {"code": code, "url": emu.base_url}
print("RUNS " + json.dumps(out))
"""


@pytest.mark.slow
def test_repeated_in_process_runs_share_no_state(tmp_path: Path) -> None:
    """Two `conform` runs in one process against two emulators, the first stopped before the second starts:
    the second run's import-time tests (Schemathesis' operations) and its fixtures (the property test's user)
    use its own target and recorder, not the first run's."""
    target_args = [*TARGET_ARGS, "--control", "--allow-writes", "--budget", "quick", "--hypothesis-seed", "3",
                   "-k", "bootstrap or add_up or concurrent"]
    done = run(["-c", REPEATED_RUNS, json.dumps(target_args)], tmp_path)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RUNS ")), None)
    assert line is not None, done.stdout[-4000:] + done.stderr[-4000:]
    runs = json.loads(line.removeprefix("RUNS "))
    assert [runs[n]["code"] for n in ("first", "second")] == [0, 0], done.stdout[-6000:]
    for name in ("first", "second"):
        report = json.loads((tmp_path / f"{name}.json").read_text())
        requests_by_op = {o["operation"]: o["requests"] for o in report["operations"]}
        assert report["meta"]["target"] == runs[name]["url"], report["meta"]
        assert report["failures"] == [] and report["outcomes"].get("passed", 0) >= 3, report
        assert requests_by_op.get("GET /api/v1/paywall/{id}/bootstrap", 0) > 0, requests_by_op
        assert requests_by_op.get("POST /api/v1/paywall/{id}/balances", 0) >= 40, requests_by_op


@pytest.mark.slow
@pytest.mark.parametrize("module", ["pytest", "schemathesis"])
def test_conform_without_the_contract_extra_says_how_to_install_it(tmp_path: Path, module: str) -> None:
    """The command as installed without the `contract` extra (the module made unimportable before the CLI
    runs): one line naming the missing module and the install command, the usage-error status, no traceback."""
    shim = (f"import sys; sys.modules[{module!r}] = None; from paywall_emulator.cli import main; "
            "sys.exit(main(['conform']))")
    done = run(["-c", shim], tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"paywall-emulator conform: the contract suite needs {module}, which is not installed; "
        "install the contract extra: pip install 'paywall-emulator[contract]'"], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "paywall-emulator conform:" not in done.stdout  # refused before the run's header


def test_the_pytest_plugin_registers_only_namespaced_options(pytester: pytest.Pytester) -> None:
    """The `paywall_contract` plugin loads into every pytest session of a project that installed the package:
    it adds `--paywall-allow-writes`, never a bare `--allow-writes` another plugin might own. (In this
    process: option parsing needs no interpreter of its own.)"""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")  # pytest-asyncio's warning
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    namespaced = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "--paywall-allow-writes")
    assert namespaced.ret == 0, namespaced.stdout.str() + namespaced.stderr.str()
    bare = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "--allow-writes")
    assert bare.ret == pytest.ExitCode.USAGE_ERROR, bare.stdout.str() + bare.stderr.str()
    bare.stderr.fnmatch_lines(["*unrecognized arguments: --allow-writes*"])


def test_plain_pytest_refuses_a_bad_spec_file_as_a_usage_error(pytester: pytest.Pytester) -> None:
    """The suite run as plain pytest: a --paywall-spec that is not YAML, or a bad option value, is pytest's
    one-line usage error naming the file, line and column, not a collection error with a traceback."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    bad = pytester.path / "bad.yaml"
    bad.write_text("openapi: 3.1.0\npaths: [\n", encoding="utf-8")
    for args, said in ((["--paywall-spec", str(bad)], f"--paywall-spec {bad}:3:1: not valid YAML: "),
                       (["--paywall-budget", "fast"], "unknown budget 'fast'; choose one of quick, default, thorough")):
        done = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--pyargs", "paywall_emulator.contract_tests",
                                            *args)
        assert done.ret == pytest.ExitCode.USAGE_ERROR, done.stdout.str() + done.stderr.str()
        assert done.stderr.str().startswith(f"ERROR: {said}"), done.stderr.str()
        assert "Traceback" not in done.stdout.str() + done.stderr.str() and done.stdout.str() == ""


# --- pieces --------------------------------------------------------------------------------


def test_settings_come_from_paywall_variables() -> None:
    env = {"PAYWALL_BASE_URL": "https://staging.example.com/", "PAYWALL_API_KEY": "sk_live_x", "PAYWALL_ID": "9",
           "PAYWALL_ALLOW_WRITES": "1", "PAYWALL_BUDGET": "thorough"}
    s = from_options(lambda name: None, env)
    assert (s.base_url, s.api_key, s.paywall_id, s.allow_writes, s.budget.name) == (
        "https://staging.example.com", "sk_live_x", "9", True, "thorough")
    assert not s.control and s.foreign_id is None and s.rate_limit == "20/s"
    served = from_options(lambda name: None, {**env, "PAYWALL_CONTROL": "1"})  # only an emulator has --control
    assert served.control and served.rate_limit is None
    capped = from_options(lambda name: "5/s" if name == "paywall_rate_limit" else None, {**env, "PAYWALL_CONTROL": "1"})
    assert capped.rate_limit == "5/s"
    assert from_options(lambda name: "7" if name == "paywall_id" else None, env).paywall_id == "7"
    default = from_options(lambda name: None, {})
    assert default.in_thread and default.allow_writes and default.control and default.paywall_id == "3"
    with pytest.raises(ValueError, match="--paywall-api-key"):
        from_options(lambda name: None, {"PAYWALL_BASE_URL": "https://x.example.com"})


def test_curl_lines_hide_secrets_and_quote_bodies() -> None:
    line = curl("POST", "http://h/api?x=1", {"X-Api-Key": "sk_secret", "Authorization": "Bearer tok",
                                              "Content-Type": "application/json", "User-Agent": "python"},
                b'{"a": "it\'s"}')
    assert "sk_secret" not in line and "tok" not in line and "python" not in line
    assert '-H "X-Api-Key: ${PAYWALL_API_KEY}"' in line and '"Authorization: ${PAYWALL_AUTHORIZATION}"' in line
    assert "--data-raw '{\"a\": \"it'\"'\"'s\"}'" in line
    assert "--data-binary $'\\x00\\xff'" in curl("POST", "http://h/", {}, b"\x00\xff")


def test_the_sdk_code_rule() -> None:
    def resp(status: int, body: Any, ctype: str = "application/json") -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = status, (json.dumps(body) if body is not None else "").encode()
        r.headers["Content-Type"] = ctype
        return r

    assert sdk_code(resp(400, {"error": "x", "code": "invalid_email"})) == "invalid_email"
    assert sdk_code(resp(401, {"error": "invalid_token"})) == "invalid_token"
    assert sdk_code(resp(400, {"error": "Insufficient tokens"})) == "http_400"
    assert sdk_code(resp(503, None, "text/plain")) == "http_503"


def test_the_report_table_lists_each_operation_with_its_failures() -> None:
    recorder = Recorder()
    recorder.start_test("t::a")
    prepared = requests.Request("GET", "http://h/api/v1/paywall/3/user", headers={"X-Api-Key": "sk_x"}).prepare()
    recorder.on_request("GET /api/v1/paywall/{id}/user", prepared)
    recorder.add_failure(operation="GET /api/v1/paywall/{id}/user", check="status_code_conformance",
                         title="Undocumented HTTP status code", message="Received: 410", request=prepared, status=410,
                         response='{"code":"identity_not_found"}')
    text = render(recorder.to_json())
    assert "GET /api/v1/paywall/{id}/user         1  status_code_conformance ×1" in text
    assert "answer: HTTP 410" in text and "sk_x" not in text and "${PAYWALL_API_KEY}" in text
