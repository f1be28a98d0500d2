"""HTTP for the contract suite: one guarded `requests` session shared by the generated and the hand-written
tests (it counts every request per operation, refuses writes on a read-only run and stops at the
budget's request cap), a small public-API client, the control-API client for `emulator_only` tests, the
SDK's rule for an error's machine code, and redacted `curl` reproductions.

HTTP only: nothing here imports `emulator`, so the suite runs unchanged against a real deployment.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from paywall_emulator.contract_tests.reporting import Recorder
    from paywall_emulator.contract_tests.spec import Contract

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # OPTIONS: CORS preflights change nothing
SECRET_HEADERS = {"x-api-key": "PAYWALL_API_KEY", "authorization": "PAYWALL_AUTHORIZATION"}
NOISE_HEADERS = frozenset({"user-agent", "accept-encoding", "connection", "content-length"})
SLUG = re.compile(r"^[a-z0-9_.-]{1,64}$", re.IGNORECASE)
TIMEOUT = 30.0
MAX_INLINE_BODY = 64 * 1024  # larger request bodies are not spelled out in a reproduction


class WriteRefused(RuntimeError):
    """A request that is not a read on a run without --allow-writes: a bug in the suite, never sent."""


class RequestBudgetExhausted(RuntimeError):
    """The run reached its budget's request cap; nothing more is sent."""


class GuardedSession(requests.Session):
    def __init__(self, *, base_url: str, contract: Contract, recorder: Recorder, allow_writes: bool,
                 max_requests: int) -> None:
        super().__init__()
        self.base_path = urlsplit(base_url).path.rstrip("/")
        self.contract = contract
        self.recorder = recorder
        self.allow_writes = allow_writes
        self.max_requests = max_requests

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        method = (request.method or "GET").upper()
        if method not in READ_METHODS and not self.allow_writes:
            raise WriteRefused(f"refusing to send {method} {request.url} on a read-only run (no --allow-writes)")
        if self.recorder.total_requests >= self.max_requests:
            raise RequestBudgetExhausted(
                f"the run reached its cap of {self.max_requests} requests; use a larger --budget or fewer tests")
        path = urlsplit(request.url or "").path
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path):]
        op = self.contract.match(method, path)
        if op is None and method == "OPTIONS":  # a CORS preflight: one row per path
            op = next((o for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                       if (o := self.contract.match(m, path))), None)
            label = f"OPTIONS {op.path}" if op else "OPTIONS (not in the spec)"
        else:
            label = op.label if op else f"{method} (not in the spec)"
        self.recorder.on_request(label, request)
        kwargs.setdefault("timeout", TIMEOUT)
        response = super().send(request, **kwargs)
        if not kwargs.get("stream"):
            self.recorder.on_response(response.status_code, response.content)
        return response


def sdk_code(resp: requests.Response) -> str:
    """The machine code the official SDK derives from an error answer (wire contract §1.4): `code`, else a
    slug-shaped `error`, else `http_<status>`."""
    body: Any = None
    if "application/json" in resp.headers.get("Content-Type", ""):
        try:
            body = resp.json()
        except ValueError:
            body = None
    if isinstance(body, dict):
        if body.get("code") is not None:
            return str(body["code"])
        error = body.get("error")
        if isinstance(error, str) and SLUG.match(error):
            return error
    return f"http_{resp.status_code}"


def curl(method: str, url: str, headers: Mapping[str, str], body: bytes | str | None) -> str:
    """A runnable `curl` line; secrets become `$PAYWALL_…` variables, never their values."""
    parts = ["curl", "-sS", "-X", method.upper(), shlex.quote(url)]
    for name, value in headers.items():
        low = name.lower()
        if low in NOISE_HEADERS or (low == "accept" and value == "*/*"):
            continue
        if low in SECRET_HEADERS:
            parts += ["-H", f'"{name}: ${{{SECRET_HEADERS[low]}}}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > MAX_INLINE_BODY:  # e.g. a 10 MB upload: say what it was instead of spelling it out
            return " ".join([*parts, "--data-binary", "@request-body.bin"]) + f"  # a {len(raw)}-byte body, not inlined"
        try:
            text = raw.decode("utf-8")
            printable = all(ch.isprintable() or ch in "\n\t" for ch in text)
        except UnicodeDecodeError:
            printable = False
        if printable:
            parts += ["--data-raw", shlex.quote(text)]
        else:
            parts += ["--data-binary", _ansi_c(raw)]
    return " ".join(parts)


def _ansi_c(raw: bytes) -> str:
    out = []
    for byte in raw:
        ch = chr(byte)
        if ch in "\\'":
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


def curl_of(request: requests.PreparedRequest) -> str:
    return curl(request.method or "GET", request.url or "", dict(request.headers), request.body)


def explain(resp: requests.Response, limit: int = 600) -> str:
    """What came back and how to send it again, for assertion messages."""
    text = resp.text if len(resp.text) <= limit else resp.text[:limit] + "…"
    return (f"got HTTP {resp.status_code} code={sdk_code(resp)!r} body={text}\n"
            f"  reproduce: {curl_of(resp.request)}")


def expect_error(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an error answer: its status and the machine code the SDK would derive; returns the body."""
    assert (resp.status_code, sdk_code(resp)) == (status, code), f"expected {status} {code}, {explain(resp)}"
    assert "application/json" in resp.headers.get("Content-Type", ""), f"error not labelled JSON, {explain(resp)}"
    body = resp.json()
    envelope = isinstance(body, dict) and {"error", "code", "message"} <= set(body)
    assert envelope, f"not the error envelope {{error, code, message}}, {explain(resp)}"
    return body


def expect_ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"expected {status}, {explain(resp)}"
    if status == 204:
        return None
    assert "application/json" in resp.headers.get("Content-Type", ""), f"not labelled JSON, {explain(resp)}"
    return resp.json()


_DEFAULT_KEY = object()


class Api:
    """The public API of the target through the guarded session (`key=None` sends no X-Api-Key)."""

    def __init__(self, session: GuardedSession, base_url: str, api_key: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def request(self, method: str, path: str, *, key: Any = _DEFAULT_KEY, bearer: str | None = None,
                headers: Mapping[str, str] | None = None, **kwargs: Any) -> requests.Response:
        h = dict(headers or {})
        api_key = self.api_key if key is _DEFAULT_KEY else key
        if api_key is not None:
            h["X-Api-Key"] = api_key
        if bearer is not None:
            h["Authorization"] = f"Bearer {bearer}"
        return self.session.request(method, self.base_url + path, headers=h, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)


# The emulator's state dump answers one page per table (10,000 rows unless asked); the suite reads the
# largest page the control spec allows, far more than any run creates.
STATE_ALL = "/state?limit=100000"


class ControlError(RuntimeError):
    def __init__(self, method: str, path: str, resp: requests.Response) -> None:
        super().__init__(f"control API {method} {path} answered {resp.status_code}: {resp.text[:400]}")
        self.status = resp.status_code
        self.body = resp.text


class Control:
    """The emulator's `/_emulator` API over plain HTTP (emulator_only tests; not counted in the report)."""

    def __init__(self, base_url: str, recorder: Recorder | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.recorder = recorder  # each call joins the test's reproduction script

    def request(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200, 201, 202, 204),
                **kwargs: Any) -> Any:
        data = None if body is None else json.dumps(body)
        url = f"{self.base_url}/_emulator{path}"
        if self.recorder is not None:
            self.recorder.on_control(method, url, data)
        resp = self.http.request(method, url, data=data,
                                 headers={"Content-Type": "application/json"} if body is not None else {},
                                 timeout=TIMEOUT, **kwargs)
        if resp.status_code not in expect:
            raise ControlError(method, path, resp)
        return resp.json() if resp.content and "json" in resp.headers.get("Content-Type", "") else None

    def available(self) -> bool:
        try:
            return self.http.get(f"{self.base_url}/_emulator/health", timeout=TIMEOUT).status_code == 200
        except requests.RequestException:
            return False

    def reset(self) -> Any:
        return self.request("POST", "/reset")

    def advance(self, *, seconds: float = 0, days: float = 0) -> Any:
        return self.request("POST", "/clock/advance", {"seconds": seconds, "days": days})

    def mint_token(self, paywall_id: str, *, email: str | None = None, user_id: str | None = None) -> str:
        body = {"paywall_id": paywall_id, **({"email": email} if email else {}),
                **({"user_id": user_id} if user_id else {})}
        return str(self.request("POST", "/tokens", body)["access_token"])
