"""The run in progress: settings, the resolved target (started lazily), the guarded HTTP session, the
recorder, and facts read once from the target (bootstraps, price ids).

`conftest.py` installs one `ContractSession` per pytest run at `pytest_configure`, in that run's
`config.stash` (`SESSION_KEY`), and removes it at `pytest_unconfigure`: nothing about a run is kept at
module level, so runs one after another in one process (`pytest.main` twice, against two targets) share
nothing. Hooks and fixtures pass their `config`; test modules that build Schemathesis tests at import time
call `current()` without one, which finds the run being configured through a context variable set between
the two hooks. The in-thread emulator is started by a callable the conftest passes in, so this module never
imports `emulator`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from paywall_emulator.contract_tests import spec
from paywall_emulator.contract_tests.client import Api, Control, GuardedSession
from paywall_emulator.contract_tests.reporting import BLOCKED, Recorder
from paywall_emulator.contract_tests.settings import Settings

Starter = Callable[[], tuple[str, Callable[[], None]]]  # -> (base_url, stop)


class TargetError(RuntimeError):
    """The target cannot be used as asked (unreachable, or writes requested on a live-mode paywall)."""


class ContractSession:
    def __init__(self, settings: Settings, starter: Starter | None) -> None:
        self.settings = settings
        self.contract = spec.load(settings.spec_path or spec.bundled_spec_path(settings.product))
        self.recorder = Recorder()
        self._starter = starter
        self._base_url: str | None = settings.base_url
        self._stop: Callable[[], None] | None = None
        self._session: GuardedSession | None = None
        self._extra_sessions: list[GuardedSession] = []
        self._bootstraps: dict[str, Any] = {}
        self._preconditions: dict[str, str | None] = {}  # name -> None (holds) or the root failure
        self._checked = False

    # --- target ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            if self._starter is None:
                raise TargetError("no --paywall-base-url and no emulator to start")
            self._base_url, self._stop = self._starter()
        return self._base_url

    @property
    def started_url(self) -> str | None:
        """The target's base URL if it is known or already started (never starts the emulator)."""
        return self._base_url

    @property
    def http(self) -> GuardedSession:
        if self._session is None:
            self._session = GuardedSession(base_url=self.base_url, contract=self.contract, recorder=self.recorder,
                                           allow_writes=self.settings.allow_writes,
                                           max_requests=self.settings.budget.max_requests)
        return self._session

    def api(self) -> Api:
        return Api(self.http, self.base_url, self.settings.api_key)

    def connection(self) -> Api:
        """The public API over a connection of its own (a new guarded session with the same write guard,
        budget and recorder), for tests that send from several threads at once. Closed with the run."""
        http = GuardedSession(base_url=self.base_url, contract=self.contract, recorder=self.recorder,
                              allow_writes=self.settings.allow_writes, max_requests=self.settings.budget.max_requests)
        self._extra_sessions.append(http)
        return Api(http, self.base_url, self.settings.api_key)

    def control(self) -> Control | None:
        return Control(self.base_url, self.recorder) if self.settings.control else None

    def prepare(self) -> None:
        """Reach the target once; with writes on a real deployment, refuse any paywall not in test mode."""
        if self._checked:
            return
        self._checked = True
        if self.settings.product == "paywalls-ai":  # no bootstrap there: one authenticated read
            try:
                self.http.get(f"{self.base_url}/v1/models",
                              headers={"Authorization": f"Bearer {self.settings.api_key}"})
            except OSError as exc:
                raise TargetError(f"cannot reach {self.base_url}: {exc}") from exc
            return
        for paywall_id in self.settings.paywall_ids():
            if paywall_id == self.settings.foreign_id:
                continue
            boot = self.bootstrap(paywall_id)
            if paywall_id == self.settings.paywall_id:
                self._check_key(paywall_id, known=boot is not None)
            if self.settings.allow_writes and not self.settings.in_thread:
                mode = (boot or {}).get("settings", {}).get("is_test_mode")
                if mode is not True:
                    raise TargetError(f"--allow-writes refused: paywall {paywall_id} reports "
                                      f"settings.is_test_mode={mode!r} in its bootstrap (writes need test mode)")

    def _check_key(self, paywall_id: str, *, known: bool) -> None:
        """One read with the key, so a wrong key or paywall id is one plain refusal instead of every test
        failing with 401/403/404."""
        resp = self.api().get(f"/api/v1/paywall/{paywall_id}/user", params={"email": self.settings.run_email("key")})
        code = _code(resp)
        if resp.status_code == 401:
            raise TargetError(f"{self.base_url} refused the API key (401 {code}); check --paywall-api-key")
        if resp.status_code == 403:
            raise TargetError(f"the API key's owner does not own paywall {paywall_id} (403 {code}); check "
                              "--paywall-api-key and --paywall-id")
        if resp.status_code == 404 and not known:
            raise TargetError(f"{self.base_url} has no paywall {paywall_id} (its bootstrap and user reads answer "
                              "404); check --paywall-id and --paywall-base-url")

    def ready(self) -> None:
        """`prepare()`, ending the pytest session with the reason when the target cannot be used."""
        try:
            self.prepare()
        except TargetError as exc:
            pytest.exit(f"paywall contract: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)

    def bootstrap(self, paywall_id: str) -> Any:
        if paywall_id not in self._bootstraps:
            try:
                resp = self.api().get(f"/api/v1/paywall/{paywall_id}/bootstrap", key=None)
            except OSError as exc:
                raise TargetError(f"cannot reach {self.base_url} ({_reason(exc)}); is it running, and is "
                                  "--paywall-base-url right?") from exc
            self._bootstraps[paywall_id] = resp.json() if resp.status_code == 200 else None
        return self._bootstraps[paywall_id]

    def require(self, name: str, probe: Callable[[], None]) -> None:
        """A precondition many tests share, checked once per run. The first test to need it fails with the
        cause (an AssertionError from `probe`); every later one is skipped as "blocked by <that cause>", so
        the report names the root once instead of failing test after test."""
        if name not in self._preconditions:
            try:
                probe()
            except AssertionError as exc:
                self._preconditions[name] = f"{name}: {str(exc).splitlines()[0] if str(exc) else 'failed'}"
                raise
            self._preconditions[name] = None
        root = self._preconditions[name]
        if root is not None:
            pytest.skip(f"{BLOCKED}{root}")

    def price_ids(self, paywall_id: str) -> list[str]:
        boot = self.bootstrap(paywall_id) or {}
        return [str(p["id"]) for p in boot.get("prices", []) if isinstance(p, dict) and "id" in p]

    def close(self) -> None:
        for http in self._extra_sessions:
            http.close()
        self._extra_sessions.clear()
        if self._session is not None:
            self._session.close()
        if self._stop is not None:
            self._stop()
            self._stop = None


def _reason(exc: OSError) -> str:
    """The operating system's words for a failed connection (`Connection refused`), not the HTTP
    library's nested repr."""
    import re

    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return found[-1].strip() if found else type(exc).__name__


def _code(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("code") or body.get("error") or "") if isinstance(body, dict) else ""


SESSION_KEY = pytest.StashKey[ContractSession]()
_ACTIVATION_KEY = pytest.StashKey["contextvars.Token[pytest.Config | None]"]()
# The config of the contract run between its pytest_configure and pytest_unconfigure, for code that has no
# config to pass (test modules building tests at import time). Context-local; the run's state is in the stash.
_RUNNING: contextvars.ContextVar[pytest.Config | None] = contextvars.ContextVar("contract_tests_run", default=None)


def install(config: pytest.Config, session: ContractSession) -> None:
    config.stash[SESSION_KEY] = session
    config.stash[_ACTIVATION_KEY] = _RUNNING.set(config)


def uninstall(config: pytest.Config) -> ContractSession | None:
    """Take the run's session out of its config (the caller closes it)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        del config.stash[SESSION_KEY]
    token = config.stash.get(_ACTIVATION_KEY, None)
    if token is not None:
        del config.stash[_ACTIVATION_KEY]
        try:
            _RUNNING.reset(token)
        except ValueError:  # set in another context: just forget this run
            if _RUNNING.get() is config:
                _RUNNING.set(None)
    return session


def peek(config: pytest.Config | None = None) -> ContractSession | None:
    """The session of `config`'s run (default: the run being configured), if any: for hooks that also run
    outside a contract run."""
    config = config if config is not None else _RUNNING.get()
    return config.stash.get(SESSION_KEY, None) if config is not None else None


def current(config: pytest.Config | None = None) -> ContractSession:
    session = peek(config)
    if session is None:
        raise RuntimeError("contract_tests runs under pytest with its conftest (pytest --pyargs contract_tests)")
    return session
