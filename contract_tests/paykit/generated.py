"""Schemathesis wiring of PayKit's generated tests: an explicit `schemathesis.Config` built from the run's
settings (target, budget, Hypothesis seed, rate), the operations a run may touch (GET only without --allow-writes;
the Stripe webhook and the lenient project bodies are left to the hand-written tests), users tagged with
the run id, and the hook that feeds the run's report.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from paywall_emulator.contract_tests.generated import base_config, record_failures
from paywall_emulator.contract_tests.paykit.target import spec_path
from paywall_emulator.contract_tests.session import ContractSession
from paywall_emulator.contract_tests.spec import load

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection")
READS = ("getAccess", "getAnalytics", "listAccounts", "listProjects", "getEmbedScript")
WRITES = ("meterUsage", "grantCredits", "createCheckout", "createPortal")


def operations(session: ContractSession) -> tuple[str, ...]:
    return READS + WRITES if session.settings.allow_writes else READS


def load_schema(session: ContractSession) -> Any:
    settings = session.settings
    users = [f"conform_{settings.run_id}_gen{i}" for i in range(4)]
    keys = [k for k in (settings.paykit_publishable_key, settings.paykit_secret_key) if k]
    data = base_config(session, CHECKS)
    data.update({
        "dictionaries": {"users": {"values": users}, "keys": {"values": keys or ["pk_live_demo"]}},
        "parameters": {
            # A real deployment only meets this run's users from positive data, so what it creates is findable.
            "query.userId": {"dictionary": "users", "probability": 1.0 if not settings.control else 0.7},
            "body.userId": {"dictionary": "users", "probability": 1.0 if not settings.control else 0.7},
            "header.x-paykit-key": {"dictionary": "keys", "probability": 0.6},
            "query.key": {"dictionary": "keys", "probability": 0.6},
        },
    })
    schema = schemathesis.openapi.from_path(str(spec_path()), config=schemathesis.Config.from_dict(data))
    schema = schema.include(operation_id=list(operations(session)))
    record_failures(schema, session)
    return schema


def guarded_http(session: ContractSession) -> Any:
    """A guarded session for PayKit's paths (the report names PayKit's operations)."""
    from paywall_emulator.contract_tests.client import GuardedSession

    return GuardedSession(base_url=session.base_url, contract=load(spec_path()), recorder=session.recorder,
                          allow_writes=session.settings.allow_writes, max_requests=session.settings.budget.max_requests)
