"""The PayKit target as the suite sees it: a guarded HTTP session (writes refused on a read-only run,
the request cap, every request in the run's report) speaking PayKit's key conventions, checks of answers
against the PayKit document, Stripe signatures, and the suite's skip helpers. HTTP only.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from paywall_emulator.contract_tests import spec
from paywall_emulator.contract_tests.client import Control, GuardedSession, explain
from paywall_emulator.contract_tests.helpers import concurrently
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.settings import Settings

SPEC_NAME = "paykit.openapi.yaml"


def spec_path() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / SPEC_NAME, here.parent / "spec" / SPEC_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{SPEC_NAME} is neither in {here / '_data'} nor in {here.parent / 'spec'}")


class PayKitTarget:
    def __init__(self, session: ContractSession) -> None:
        self.settings: Settings = session.settings
        self.base_url = session.base_url
        self.contract = spec.load(spec_path())
        self._session = session
        self._http: list[GuardedSession] = []
        self._default: GuardedSession | None = None

    def http(self) -> GuardedSession:
        s = self._session
        http = GuardedSession(base_url=self.base_url, contract=self.contract, recorder=s.recorder,
                              allow_writes=self.settings.allow_writes, max_requests=self.settings.budget.max_requests)
        self._http.append(http)
        return http

    def control(self) -> Control:
        """The emulator's control API (emulator_only tests, which are skipped on other targets first)."""
        found = self._session.control()
        if found is None:  # pragma: no cover - emulator_only tests are skipped before fixtures run
            pytest.skip("emulator_only: no control API on this target")
        return found

    def close(self) -> None:
        for http in self._http:
            http.close()

    def user(self, tag: str) -> str:
        """A fresh user id of this run (every run meets new accounts with their 5 free credits)."""
        return f"conform_{self.settings.run_id}_{tag}"

    def request(self, method: str, path: str, *, key: str | None = None, http: GuardedSession | None = None,
                **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers["x-paykit-key"] = key
        if http is None:
            http = self._default = self._default or self.http()
        return http.request(method, f"{self.base_url}{path}", headers=headers, allow_redirects=False, **kwargs)

    def credits(self, user: str, *, key: str | None = None) -> int:
        resp = self.request("GET", "/api/v1/access", key=key, params={"userId": user})
        return int(conforms(self, "getAccess", resp, 200)["credits"])


def conforms(target: PayKitTarget, operation_id: str, resp: requests.Response, status: int) -> Any:
    """The answer's JSON, after checking its status and its body against the PayKit document."""
    assert resp.status_code == status, f"expected {status}: {explain(resp)}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), explain(resp)
    body = resp.json()
    schema = response_schema(target.contract.document, operation_id, status)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{operation_id} {status} does not match the spec: {errors[0].message}; {explain(resp)}"
    return body


def refused(target: PayKitTarget, operation_id: str, resp: requests.Response, status: int,
            message: str | None = None) -> dict[str, Any]:
    """A PayKit refusal: the status, the plain `{error}` body, and the exact sentence when given."""
    body = conforms(target, operation_id, resp, status)
    assert isinstance(body.get("error"), str) and body["error"], explain(resp)
    if message is not None:
        assert body["error"] == message, explain(resp)
    return dict(body)


def response_schema(document: dict[str, Any], operation_id: str, status: int) -> dict[str, Any]:
    for item in document["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                response = op["responses"][str(status)]
                while "$ref" in response:
                    response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                schema = response["content"]["application/json"]["schema"]
                return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema,
                        "components": document["components"]}
    raise KeyError(operation_id)


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """`t=…,v1=…` as Stripe signs a webhook (HMAC-SHA256 of "{t}.{payload}")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def need(value: str | None, option: str, why: str) -> str:
    if not value:
        pytest.skip(f"needs {option}: {why}")
    return value


def skip_unconfigured(resp: requests.Response) -> None:
    """PayKit without Stripe answers 501 on checkout, portal and webhook: nothing to check there."""
    if resp.status_code == 501:
        pytest.skip("the target has no Stripe configured (501)")


def at_once(target: PayKitTarget, count: int, call: Callable[[GuardedSession], requests.Response],
            connections: int = 10) -> list[requests.Response]:
    """`count` calls over `connections` sessions, all threads released together."""
    return concurrently([target.http() for _ in range(connections)], [call] * count)
