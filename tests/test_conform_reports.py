"""Reports that name the cause, shown on deliberately broken emulators (served in a thread, `conform` run
in a subprocess as against a deployment): a failing behavioural test reproduces as a shell script of
every request it sent, control calls included, with expected and actual values in the message and no
secret; a broken shared precondition is one failure and the tests behind it are "blocked by" it; a
response-schema failure names the JSON path and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from paywall_emulator.contract_tests.reporting import schema_failure_title
from paywall_emulator.engine.routing import Call, Handler, Reply
from paywall_emulator.products.monetize.domain import lifecycle

from .test_conform_drift import ACME_KEY, broken, conform, wrapped


@pytest.mark.slow
def test_a_lifecycle_bug_reproduces_as_the_whole_sequence(tmp_path: Path) -> None:
    patch = (lifecycle, "RENEWAL_RETRY_AFTER", timedelta(days=2))  # the bug: retried a day early
    with broken(patches=(patch,)) as url:
        run = conform(url, tmp_path, keyword="retried_three_days_later and stripe")
    assert run.code == 1, run.output
    [failure] = run.failures()
    assert "retried before 3 days" in failure["title"] or "past_due" in failure["message"], failure
    script = failure["script"]
    assert script.startswith("#!/bin/sh\n") and ': "${PAYWALL_BASE_URL:=' in script, script
    lines = [ln for ln in script.splitlines() if ln.startswith("curl ")]
    assert any("/start-checkout" in ln for ln in lines) and any("/_emulator/clock" in ln for ln in lines), script
    assert any("/fail-next-renewal" in ln for ln in lines), script
    assert all('"${PAYWALL_BASE_URL}"' in ln for ln in lines), script
    assert ACME_KEY not in run.output and '"X-Api-Key: ${PAYWALL_API_KEY}"' in script
    assert "reproduce (the whole sequence):" in run.output


@pytest.mark.slow
def test_a_broken_precondition_is_reported_once_and_blocks_the_rest(tmp_path: Path) -> None:
    async def no_prices(real: Handler, call: Call) -> Any:
        reply = await real(call)
        if isinstance(reply, Reply) and reply.status == 200 and "prices" in reply.body:
            reply.body = {**reply.body, "prices": []}
        return reply

    with broken(wrapped("getBootstrap", no_prices), strict=False) as url:
        run = conform(url, tmp_path, keyword="test_behaviour_checkout or test_behaviour_balances")
    assert run.code == 1, run.output
    roots = run.report["blocked"]
    assert roots and all("lists no prices" in root for root in roots), run.report
    assert len(run.failures()) == len(roots), run.failures()  # one failure per root, not one per test
    assert sum(len(tests) for tests in roots.values()) >= 5, roots
    assert "blocked by a buyable price on paywall" in run.output and "BLCK" in run.output, run.output


def test_a_schema_failure_names_the_json_path_and_the_field() -> None:
    missing = SimpleNamespace(instance_path=["purchases", 0], schema_path=["properties", "purchases", "items",
                                                                          "required"],
                              _raw_message='"status" is a required property', instance={})
    assert schema_failure_title(missing) == "Response violates schema: missing field 'status' at $.purchases[0]"
    wrong = SimpleNamespace(instance_path=["paid"], schema_path=["properties", "paid", "type"],
                            _raw_message='"yes" is not of type "boolean"', instance="yes")
    assert schema_failure_title(wrong) == ("Response violates schema at $.paid (field 'paid'): "
                                           '"yes" is not of type "boolean" [type]')
    branches = {"oneOf": [{"type": "object", "required": ["a"]}, {"type": "object", "required": ["a", "b"],
                                                                  "properties": {"b": {"type": "string"}}}]}
    union = SimpleNamespace(instance_path=[], schema_path=["oneOf"], _raw_message="not valid under any",
                            instance={"c": 1}, _root_schema=branches)
    title = schema_failure_title(union)
    assert title is not None and title.startswith("Response violates schema at $: matches no oneOf branch; "
                                                  "missing field 'a' at $"), title
