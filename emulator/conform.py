"""`paywall-emulator conform`: run the contract suite (`contract_tests`) against the bundled emulator (in a
thread, default) or a deployment, with a progress line per test, a per-operation summary, every failure
with a redacted `curl` that reproduces it, optional JUnit XML, and a non-zero exit when anything fails.

A driver only: the suite itself is plain pytest (`pytest --pyargs contract_tests ...`); this module turns
CLI flags into its `--paywall-*` options and renders its JSON report. Imports pytest lazily: the suite's
dependencies come with the `contract` extra, and without them `conform` says how to install it and exits
with the usage-error status (2, as for `serve`) instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from .cli import USAGE_ERROR
from .contract_tests.settings import FLAGS as SUITE_FLAGS
from .contract_tests.settings import OPTIONS as SUITE_OPTIONS

SUITE = f"{__package__}.contract_tests"  # the suite's import name, as installed

# What the suite imports beyond the emulator's own dependencies (the `contract` extra of pyproject.toml).
CONTRACT_MODULES = ("pytest", "hypothesis", "schemathesis", "requests")
INSTALL_HINT = "pip install 'paywall-emulator[contract]'"

# CLI flag -> pytest option of the suite, derived from the suite's own option table
# (contract_tests/settings.py, stdlib only): the option without its `--paywall-` prefix (`--paywall-id` keeps
# its name); `--paywall-report` is conform's own `--report-json`.
def _short(option: str) -> str:
    rest = option.removeprefix("--paywall-")
    return option if rest == "id" else f"--{rest}"


VALUE_FLAGS: tuple[tuple[str, str, str], ...] = tuple(
    (_short(option), option, text) for option, _, text in SUITE_OPTIONS if option != "--paywall-report")
SWITCHES: tuple[tuple[str, str, str], ...] = tuple((_short(option), option, text) for option, _, text in SUITE_FLAGS)
_CLI_NAME = {option: flag for flag, option, _ in (*VALUE_FLAGS, *SWITCHES)} | {"--paywall-report": "--report-json"}
_ENV = {option: var for option, var, _ in (*SUITE_OPTIONS, *SUITE_FLAGS)}


def cli_names(text: str) -> str:
    """`text` from the suite (skip reasons, refusals) with its pytest option names (`--paywall-api-key`)
    turned into this command's flags (`--api-key`)."""
    import re

    return re.sub(r"(?<![\w-])--paywall-[a-z-]+(?![\w-])", lambda m: _CLI_NAME.get(m.group(0), m.group(0)), text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, option, text in VALUE_FLAGS:
        parser.add_argument(flag, default=None, metavar=_ENV[option].removeprefix("PAYWALL_") or "VALUE",
                            help=f"{cli_names(text)} [env {_ENV[option]}]")
    for flag, option, text in SWITCHES:
        parser.add_argument(flag, action="store_true", help=f"{cli_names(text)} [env {_ENV[option]}=1]")
    parser.add_argument("--junit-xml", type=Path, default=None, metavar="FILE",
                        help="write a JUnit XML report here (default: none)")
    parser.add_argument("--report-json", type=Path, default=None, metavar="FILE",
                        help="write the per-operation JSON report here (default: none) [env PAYWALL_REPORT]")
    parser.add_argument("--rules", action="store_true",
                        help="after the run, print the rule table (contract_tests/rules.yaml) with each rule's "
                             "verdict: pass, fail, skip, blocked or not run (default: off)")
    parser.add_argument("-k", dest="keyword", default=None, metavar="EXPRESSION",
                        help="only tests matching this pytest -k expression (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show pytest's own output (default: off)")
    parser.add_argument("pytest_args", nargs="*", metavar="TEST_OR_PYTEST_OPTION",
                        help="tests to run (e.g. test_behaviour_balances or test_conformance::test_operation[GET "
                             "/api/v1/paywall/{id}/user]) and extra pytest options, after --")
    rows = [(var, _CLI_NAME.get(option, option)) for option, var, _ in (*SUITE_OPTIONS, *SUITE_FLAGS)]
    width = max(len(var) for var, _ in rows)
    variables = "\n".join(f"  {var:<{width}}  {flag}" for var, flag in rows)
    parser.epilog = (
        "Without --base-url the bundled emulator is started in a thread and every id is filled in.\n"
        "Every option can come from the environment instead (a flag wins over its variable):\n"
        f"{variables}\n"
        "Exit status: 0 all passed, 1 a test failed, 2 refused before testing (a bad option or file, an unreachable\n"
        "target, a refused key, writes on a live-mode paywall, the contract extra missing) or interrupted;\n"
        "other statuses are pytest's (4 a bad pytest option after --, 5 no test matched -k).")


def pytest_arguments(args: argparse.Namespace, report: Path) -> list[str]:
    from . import contract_tests

    package_dir = Path(contract_tests.__file__).resolve().parent
    # Our own ini and rootdir: the pytest configuration of the directory conform runs in never applies.
    # Positional extras select tests (`test_behaviour_balances`, `test_conformance::test_operation[GET ...]`).
    product = args.product or os.environ.get("PAYWALL_PRODUCT")
    own = {"paykit": "paykit", "paywalls-ai": "paywalls_ai"}.get(product or "")
    suite = f"{SUITE}.{own}" if own else SUITE  # a product's own tests
    selected = [a if a.startswith(SUITE) else f"{suite}.{a}"
                for a in args.pytest_args if not a.startswith("-")]
    extra = [a for a in args.pytest_args if a.startswith("-")]
    out = ["-c", str(package_dir / "conform.ini"), "--rootdir", str(package_dir), "--pyargs",
           *(selected or [suite]), "--paywall-report", str(report), "-q", "--tb=short", "-rN"]
    for flag, option, _ in VALUE_FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            out += [option, str(value)]
    for flag, option, _ in SWITCHES:
        if getattr(args, flag.lstrip("-").replace("-", "_")):
            out.append(option)
    if args.junit_xml is not None:
        out += ["--junit-xml", str(args.junit_xml)]
    if args.keyword:
        out += ["-k", args.keyword]
    return [*out, *extra]


class Progress:
    """One line per finished test: position, outcome, duration and requests it sent."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.total = 0
        self.done = 0
        self.requests_before = 0
        self.started = time.monotonic()
        self.config: Any = None

    def pytest_configure(self, config: Any) -> None:
        self.config = config

    def _sent(self) -> int:
        from .contract_tests import session

        current = session.peek(self.config) if self.config is not None else None
        return current.recorder.total_requests if current is not None else 0

    def pytest_collection_finish(self, session: Any) -> None:
        self.total = len(session.items)
        self.out.write(f"collected {self.total} tests\n")
        self.out.flush()

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.requests_before = self._sent()

    def pytest_runtest_logreport(self, report: Any) -> None:
        final = (report.when == "call" or (report.when == "setup" and not report.passed)
                 or (report.when == "teardown" and report.failed))
        if not final:
            return
        self.done += 1
        blocked = report.skipped and "blocked by " in str(report.longrepr)
        outcome = "FAIL" if report.failed else "BLCK" if blocked else "SKIP" if report.skipped else "ok"
        name = report.nodeid.split("::", 1)[-1]
        module = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
        sent = self._sent() - self.requests_before
        elapsed = time.monotonic() - self.started
        self.out.write(f"[{self.done:>3}/{self.total}] {outcome:<4} {module}::{name}  "
                       f"({report.duration:.1f}s, {sent} req; {elapsed:.0f}s total)\n")
        self.out.flush()


def missing_contract_module() -> str | None:
    """The first dependency of the contract suite that cannot be imported, if any."""
    for name in CONTRACT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def run(args: argparse.Namespace) -> int:
    missing = missing_contract_module()
    if missing is not None:
        return _refuse(f"the contract suite needs {missing}, which is not installed; "
                       f"install the contract extra: {INSTALL_HINT}")
    import pytest

    from .contract_tests import spec
    from .contract_tests.reporting import render
    from .contract_tests.settings import from_options

    out = sys.stdout
    try:
        settings = from_options(lambda name: _namespace_value(args, name))
        if settings.spec_path is not None:
            spec.load(settings.spec_path)  # not YAML, or not an OpenAPI document: refused before the run
        for flag, path in (("--junit-xml", args.junit_xml), ("--report-json", args.report_json)):
            _writable(flag, path)
    except ValueError as exc:
        return _refuse(str(exc))
    writes = "writes allowed" if settings.allow_writes else "read-only: GET requests and CORS preflights only"
    subject = f"paywall {settings.paywall_id}" if settings.product == "monetize" else f"product {settings.product}"
    out.write(f"paywall-emulator conform: {settings.base_url or 'bundled emulator in a thread'} "
              f"({settings.target_kind}), {subject}, {writes}\n"
              f"budget {settings.budget.name}: at most {settings.budget.max_requests} requests "
              f"({settings.budget.max_examples} examples per operation), run id {settings.run_id}, "
              f"Hypothesis seed {settings.hypothesis_seed}\n")
    out.flush()
    if not settings.in_thread and settings.product == "monetize":  # refuse early and plainly (unreachable,
        # or writes on a live-mode paywall); PayKit's suite checks its target itself
        from .contract_tests.session import ContractSession, TargetError

        probe = ContractSession(settings, None)
        try:
            probe.prepare()
        except TargetError as exc:
            return _refuse(str(exc))
        finally:
            probe.close()
    with tempfile.TemporaryDirectory(prefix="conform-") as tmp, _hypothesis_home():
        report_path = args.report_json or Path(tmp) / "report.json"
        argv = pytest_arguments(args, report_path)
        if args.run_id is None:  # the header's run id and Hypothesis seed are the ones the suite uses
            argv += ["--paywall-run-id", settings.run_id]
        if args.hypothesis_seed is None:
            argv += ["--paywall-hypothesis-seed", str(settings.hypothesis_seed)]
        captured = io.StringIO()
        started = time.monotonic()
        if args.verbose:
            code = int(pytest.main(argv, plugins=[Progress(out)]))
        else:
            saved = sys.stdout
            sys.stdout = captured
            try:
                code = int(pytest.main(argv, plugins=[Progress(out)]))
            finally:
                sys.stdout = saved
        elapsed = time.monotonic() - started
        report = _read(report_path)
    refusal = _suite_refusal(captured.getvalue()) if code not in (0, 1) else None
    if refusal is not None:  # the suite refused the target (a wrong key): one line, as for a URL target
        return _refuse(refusal)
    if report is not None:
        out.write("\n" + cli_names(render(report)) + "\n")
    if code not in (0, 1) or report is None:
        out.write("\npytest output:\n" + cli_names(captured.getvalue()[-6000:]) + "\n")
    if args.rules and report is not None:
        from .contract_tests import rules

        table = rules.render(rules.load(product=settings.product), report.get("results", {}))
        out.write(f"\nRules (contract_tests/rules.yaml):\n{table}\n")
    if report is not None and report.get("skips"):
        out.write("\nskipped:\n" + "".join(f"  {n} × {cli_names(reason)}\n" for reason, n in report["skips"].items()))
    if args.junit_xml is not None and args.junit_xml.is_file():
        out.write(f"JUnit XML: {args.junit_xml}\n")
    if args.report_json is not None and report is not None:
        out.write(f"JSON report: {args.report_json}\n")
    outcomes = (report or {}).get("outcomes", {})
    sent = (report or {}).get("total_requests", 0)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "no tests ran"
    verdict = ("PASSED" if code == 0
               else f"FAILED (repeat the generated tests with --hypothesis-seed {settings.hypothesis_seed})")
    out.write(f"\n{verdict}: {summary} in {elapsed:.1f}s; {sent} requests sent (cap {settings.budget.max_requests})\n")
    out.flush()
    return code


def _writable(flag: str, path: Path | None) -> None:
    """A report file can be written where the flag says: its folder is made if missing (as pytest does for
    --junit-xml); a path that is a folder, or a folder that cannot be made, is refused before the run."""
    if path is None:
        return
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; name the file to write")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"{flag} {path}: {blocking} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{flag} {path}: cannot make its folder ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"{flag} {path}: its folder is not writable")


def _refuse(reason: str) -> int:
    sys.stdout.flush()
    sys.stderr.write(f"paywall-emulator conform: {cli_names(reason)}\n")
    return USAGE_ERROR


def _suite_refusal(output: str) -> str | None:
    """The suite's own refusal (`pytest.exit("paywall contract: ...")`, e.g. a refused key on the in-thread
    target) in pytest's output, if that is why the run stopped."""
    import re

    found = re.search(r"Exit: paywall contract: (.+?)(?: !+)?$", output, re.MULTILINE)
    return found.group(1) if found else None


@contextmanager
def _hypothesis_home() -> Iterator[None]:
    """Hypothesis' work folder in the user's cache folder, not `.hypothesis/` in the person's current
    directory. The suite keeps no example database (a run repeats with --hypothesis-seed); what Hypothesis keeps there
    is its unicode tables, which take seconds to compute, so every run after the first reuses them. An
    explicit HYPOTHESIS_STORAGE_DIRECTORY is left alone."""
    import os

    from hypothesis.configuration import set_hypothesis_home_dir

    from .engine.cache import cache_folder

    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    set_hypothesis_home_dir(cache_folder() / "hypothesis")
    try:
        yield
    finally:
        set_hypothesis_home_dir(None)


def _namespace_value(args: argparse.Namespace, option_dest: str) -> Any:
    """Map a suite option name (`paywall_base_url`) to the CLI's value, for the header only."""
    for flag, option, _ in (*VALUE_FLAGS, *SWITCHES):
        if option.lstrip("-").replace("-", "_") == option_dest:
            return getattr(args, flag.lstrip("-").replace("-", "_"))
    return None


def _read(path: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paywall-emulator conform")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
