"""Proof that the contract suite catches drift: deliberately broken emulators (a handler replaced through
`create_app`'s `handler_overrides` seam, or the webhook signer or the auth step patched) are served in a thread, and
`paywall-emulator conform` is pointed at each one in a subprocess, exactly as at a deployment, with a
focused selection of tests. Each run must fail (exit 1), name the check or test that caught the drift
on the right operation, print a reproducing `curl` line, and never print the API key.

A suite that passes a broken target is a defect: every variant here must stay red.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

import paywall_emulator.testing.harness as harness_module
from paywall_emulator.app import create_app
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine import control
from paywall_emulator.engine.routing import Call, Handler, Reply, collect_handlers
from paywall_emulator.products.monetize import auth as monetize_auth
from paywall_emulator.products.monetize import handlers
from paywall_emulator.products.monetize import webhooks as monetize_webhooks
from paywall_emulator.products.monetize.auth import Principal, authenticate
from paywall_emulator.products.monetize.domain import balances as domain_balances
from paywall_emulator.products.monetize.domain.identity import find_user
from paywall_emulator.products.monetize.errors import EmulatorError, render_error
from paywall_emulator.testing import ThreadedEmulator

ACME_KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
PROVIDER = "3f6c1a52-7d2e-4b8f-9a10-5c4e2b7d9f01"
REAL = collect_handlers([control, *handlers.MODULES])
USER = "GET /api/v1/paywall/{id}/user"
CHECKOUT = "POST /api/v1/paywall/{id}/start-checkout"
BALANCES = "POST /api/v1/paywall/{id}/balances"

# Each test runs `conform` in another interpreter: left out of the inner loop (-m "not slow").
pytestmark = pytest.mark.slow


@contextmanager
def broken(overrides: dict[str, Handler] | None = None, *, strict: bool = True,
           patches: tuple[tuple[Any, str, Any], ...] = ()) -> Iterator[str]:
    """An emulator with some handlers replaced (and module attributes patched) served in a thread."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(harness_module, "create_app", functools.partial(create_app, handler_overrides=overrides))
        for target, name, value in patches:
            mp.setattr(target, name, value)
        with ThreadedEmulator(EmulatorConfig(strict_responses=strict)) as emu:
            yield emu.base_url


@dataclasses.dataclass
class Run:
    code: int
    output: str
    report: dict[str, Any]

    def failures(self) -> list[dict[str, Any]]:
        return list(self.report.get("failures", []))

    def caught(self, check: str, operation: str | None = None) -> bool:
        return any(f["check"] == check and (operation is None or f["operation"] == operation)
                   for f in self.failures())


def conform(base_url: str, tmp_path: Path, *, keyword: str, budget: str = "quick") -> Run:
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "paywall_emulator", "conform", "--base-url", base_url, "--api-key", ACME_KEY,
           "--paywall-id", "3", "--email", "alice@example.com", "--other-id", "7", "--foreign-id", "40",
           "--tokenized-id", "15", "--freemius-id", "12", "--provider-id", PROVIDER, "--control", "--allow-writes",
           "--budget", budget, "--hypothesis-seed", "7", "--rate-limit", "none", "--report-json", str(report),
           "-k", keyword]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWALL_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, check=False)
    output = proc.stdout + proc.stderr
    data = json.loads(report.read_text()) if report.exists() else {}
    return Run(code=proc.returncode, output=output, report=data)


def assert_loud(run: Run) -> None:
    assert run.code == 1, run.output
    # a single curl line, or for a behavioural test the whole sequence it sent as a script
    assert "reproduce: curl" in run.output or "reproduce (the whole sequence):" in run.output, run.output
    assert "$PAYWALL_API_KEY" in run.output or "${PAYWALL_API_KEY}" in run.output, run.output
    assert ACME_KEY not in run.output, "the API key leaked into the output"
    assert all(f["curl"] and ACME_KEY not in f["curl"] and ACME_KEY not in (f.get("script") or "")
               for f in run.failures()), run.failures()


def wrapped(op: str, wrapper: Callable[[Handler, Call], Any]) -> dict[str, Handler]:
    real = REAL[op]

    async def handler(call: Call) -> Any:
        return await wrapper(real, call)

    return {op: handler}


def test_a_wrong_status_code_is_reported(tmp_path: Path) -> None:
    async def unknown_user_as_410(real: Handler, call: Call) -> Any:
        try:
            return await real(call)
        except EmulatorError as err:
            if err.code != "identity_not_found":
                raise
            return Reply(status=410, body=render_error(err))

    with broken(wrapped("getUser", unknown_user_as_410), strict=False) as url:
        run = conform(url, tmp_path, keyword="test_operation and user] or unknown_email")
    assert_loud(run)
    assert run.caught("status_code_conformance", USER), run.output
    assert run.caught("test_unknown_email_is_identity_not_found", USER), run.output


def test_a_missing_required_response_field_is_reported(tmp_path: Path) -> None:
    async def without_paid(real: Handler, call: Call) -> Any:
        reply = await real(call)
        if isinstance(reply, Reply) and reply.status == 200:
            reply.body = {k: v for k, v in reply.body.items() if k != "paid"}
        return reply

    with broken(wrapped("getUser", without_paid), strict=False) as url:
        run = conform(url, tmp_path, keyword="test_operation and user]", budget="default")
    assert_loud(run)
    assert run.caught("response_schema_conformance", USER), run.output


def test_a_non_atomic_debit_is_reported(tmp_path: Path) -> None:
    async def read_then_write(real: Handler, call: Call) -> Any:
        body = call.body
        paywall = monetize_auth.caller(call).paywall
        if not isinstance(body, dict) or body.get("op") != "debit" or paywall is None:
            return await real(call)
        ttype = paywall.token_type(str(body.get("type")))
        user = find_user(call.state, paywall, email=body.get("email"), user_id=body.get("user_id"))
        if ttype is None or user is None:
            return await real(call)
        seen = domain_balances.current(call.state, call.world.now(), paywall, user.id, ttype).count
        await asyncio.sleep(0.01)  # the bug: other requests run between the read and the write
        domain_balances.current(call.state, call.world.now(), paywall, user.id, ttype).count = seen
        return await real(call)  # debits from the stale count it read: concurrent debits are lost

    with broken(wrapped("adjustBalance", read_then_write)) as url:
        run = conform(url, tmp_path, keyword="concurrent_debits")
    assert_loud(run)
    assert run.caught("test_concurrent_debits_neither_overdraw_nor_lose_updates", BALANCES), run.output
    assert "debits of 1 sent at once" in run.output, run.output


def test_a_partial_debit_is_reported(tmp_path: Path) -> None:
    """A refused debit that still takes what there was (the refusal is right, the balance is not)."""

    async def partial_debit(real: Handler, call: Call) -> Any:
        try:
            return await real(call)
        except EmulatorError as err:
            if err.code != "insufficient" or not err.extra.get("available"):
                raise
            # The bug: take what there is, then report the refusal anyway.
            await real(dataclasses.replace(call, body={**call.body, "amount": err.extra["available"]}))
            raise

    with broken(wrapped("adjustBalance", partial_debit)) as url:
        run = conform(url, tmp_path, keyword="insufficient or add_up")
    assert_loud(run)
    assert run.caught("test_insufficient_debit_leaves_the_balance_unchanged"), run.output


def test_a_checkout_ignoring_the_idempotency_key_is_reported(tmp_path: Path) -> None:
    async def forgetful(real: Handler, call: Call) -> Any:
        headers = CIMultiDict(call.headers)
        headers.popall("Idempotency-Key", None)
        return await real(dataclasses.replace(call, headers=CIMultiDictProxy(headers)))

    with broken(wrapped("startCheckout", forgetful)) as url:
        run = conform(url, tmp_path, keyword="idempotency_key")
    assert_loud(run)
    assert run.caught("test_same_idempotency_key_returns_the_same_checkout", CHECKOUT), run.output


def test_a_webhook_with_a_bad_signature_is_reported(tmp_path: Path) -> None:
    real_sign = monetize_webhooks.sign

    def sign_with_newline(secret: str, body: bytes) -> str:  # the bug: signs bytes it did not send
        return real_sign(secret, body + b"\n")

    with broken(patches=((monetize_webhooks, "sign", sign_with_newline),)) as url:
        run = conform(url, tmp_path, keyword="webhook")
    assert_loud(run)
    assert run.caught("test_a_cancellation_webhook_verifies_with_both_recipes"), run.output
    assert "X-Signature" in run.output, run.output


def test_a_server_error_on_some_input_is_reported(tmp_path: Path) -> None:
    async def crashes_without_success_url(real: Handler, call: Call) -> Any:
        if isinstance(call.body, dict) and "successUrl" not in call.body:
            raise KeyError("successUrl")  # the bug: an optional field treated as required
        return await real(call)

    with broken(wrapped("startCheckout", crashes_without_success_url)) as url:
        run = conform(url, tmp_path, keyword="test_operation and start-checkout]")
    assert_loud(run)
    assert run.caught("not_a_server_error", CHECKOUT), run.output


def test_an_operation_ignoring_missing_credentials_is_reported(tmp_path: Path) -> None:
    def lax(store: Any, now: Any, op: Any, headers: Any) -> Principal:
        if op.operation_id == "getUser" and "X-Api-Key" not in headers:  # the bug: no key, full access
            return Principal(kind="owner", owner_id="own_acme")
        return authenticate(store, now, op, headers)

    with broken(patches=((monetize_auth, "authenticate", lax),)) as url:
        run = conform(url, tmp_path, keyword="test_operation and user] or missing_api_key", budget="default")
    assert_loud(run)
    assert run.caught("ignored_auth", USER), run.output
    assert run.caught("test_missing_api_key_is_unauthorized", USER), run.output
