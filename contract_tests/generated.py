"""Schemathesis wiring for the generated tests: an explicit `schemathesis.Config` (never a user's
`schemathesis.toml`), the schema with target, auth and budget set before any test is built, which
operations a run may touch, the data dictionaries that steer generation towards the target's real ids,
and the hooks that feed the report.

Read-only runs touch only `READ_OPERATIONS`; runs against a real deployment never call the gateway
(it would forward to the integrator's paid upstreams) and tag what they create with the run id.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import hypothesis
import schemathesis

from paywall_emulator.contract_tests.reporting import schema_failure_title
from paywall_emulator.contract_tests.spec import GATEWAY_TAG, READ_OPERATIONS

if TYPE_CHECKING:
    from paywall_emulator.contract_tests.session import ContractSession

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
)
# Operations the stateful runs walk (the spec's links join them: checkout -> user -> cancel, credit -> debit).
WORKFLOW_OPERATIONS = ("startCheckout", "getUser", "getUserState", "adjustBalance", "cancelSubscription")
# Seeded users of the bundled emulator, so generated data also reaches success paths there.
EMULATOR_EMAILS = ("alice@example.com", "bob@example.com", "carol@example.com", "erin@example.com")


def _prices_by_paywall(session: ContractSession) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for paywall_id in session.settings.paywall_ids():
        for price in session.price_ids(paywall_id):
            # The SDK sends numbers, the docs' examples strings: both are valid.
            found.setdefault(paywall_id, []).extend([int(price) if price.isdigit() else price, price])
    return found


def _token_types(session: ContractSession) -> list[str]:
    if not session.settings.tokenized_id:
        return []
    boot = session.bootstrap(session.settings.tokenized_id) or {}
    found = []
    for block in (boot.get("layout") or {}).get("blocks", []):
        if isinstance(block, dict) and block.get("type") == "tokenization_gate":
            found += [str(q["id"]) for q in block.get("queries", []) if isinstance(q, dict) and "id" in q]
    return found


def base_config(session: ContractSession, checks: tuple[str, ...] = CHECKS) -> dict[str, Any]:
    """The Schemathesis settings every product's generated tests share: the target, the budget (examples,
    the boundary-value phase but never an undeclared method), the checks, the Hypothesis seed, the rate."""
    settings, budget = session.settings, session.settings.budget
    data: dict[str, Any] = {
        "base-url": session.base_url,
        "request-timeout": 30,
        "suppress-health-check": ["all"],
        "generation": {"mode": "all", "max-examples": budget.max_examples, "database": "none",
                       "no-shrink": budget.name == "quick"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
        # Never probe undeclared methods (DELETE, PUT, TRACE...): a real deployment may act on them.
        "phases": {"coverage": {"enabled": budget.coverage, "unexpected-methods": []}},
        "seed": settings.hypothesis_seed,
    }
    if settings.rate_limit:
        data["rate-limit"] = settings.rate_limit
    return data


def record_failures(schema: Any, session: ContractSession) -> None:
    """Every failed check of a generated test goes to the run's report (a schema failure titled by its
    JSON path)."""
    recorder = session.recorder

    @schema.hook("after_validate")
    def record(context: Any, case: Any, response: Any, results: list[Any]) -> None:
        for result in results:
            if result.failure is None:
                continue
            recorder.add_failure(operation=case.operation.label, check=result.name,
                                 title=schema_failure_title(result.failure) or str(result.failure.title),
                                 message=str(result.failure.message or ""),
                                 request=response.request, status=response.status_code,
                                 response=(response.content or b"")[:300].decode("utf-8", "replace"))


def build_config(session: ContractSession) -> schemathesis.Config:
    settings, budget = session.settings, session.settings.budget
    run_emails = [settings.run_email(f"gen{i}") for i in range(4)]
    known = [settings.email] if settings.email else []  # reaches 200s, which ignored_auth needs
    emails = [*run_emails, *known] if not settings.control else [*run_emails, *known, *EMULATOR_EMAILS]
    emails = list(dict.fromkeys(emails))
    dictionaries: dict[str, Any] = {
        "paywalls": {"values": settings.paywall_ids()},
        "emails": {"values": emails},
    }
    parameters: dict[str, Any] = {
        "path.id": {"dictionary": "paywalls", "probability": 0.9},
        # A real deployment gets only run-tagged addresses from positive data, so what it creates is findable.
        "body.email": {"dictionary": "emails", "probability": 1.0 if not settings.control else 0.7},
        "body.customer_email": {"dictionary": "emails", "probability": 1.0 if not settings.control else 0.5},
        "query.email": {"dictionary": "emails", "probability": 0.7},
        "header.X-Visitor-Id": f"conform-{settings.run_id}",
    }
    types = _token_types(session)
    if types:
        dictionaries["types"] = {"values": types}
        parameters["body.type"] = {"dictionary": "types", "probability": 0.8}
    if settings.provider_id:
        dictionaries["providers"] = {"values": [settings.provider_id]}
        parameters["path.providerId"] = {"dictionary": "providers", "probability": 0.6}
    data = base_config(session)
    data["phases"]["stateful"] = {"max-steps": budget.stateful_steps}
    data.update({"auth": {"openapi": {"ApiKeyAuth": {"api_key": settings.api_key.replace("$", "$$")}}},
                 "dictionaries": dictionaries, "parameters": parameters})
    return schemathesis.Config.from_dict(data)


def allowed(session: ContractSession, operation_id: str, tags: tuple[str, ...]) -> bool:
    settings = session.settings
    if not settings.allow_writes:
        return operation_id in READ_OPERATIONS
    return not (GATEWAY_TAG in tags and not settings.control)


def load_schema(session: ContractSession, only: tuple[str, ...] | None = None) -> Any:
    """The filtered schema with the target, auth and budget already in its config (before parametrize)."""
    session.ready()
    config = build_config(session)
    schema = schemathesis.openapi.from_path(str(session.contract.path), config=config)
    permitted = [op.operation_id for op in session.contract.operations
                 if allowed(session, op.operation_id, op.tags) and (only is None or op.operation_id in only)]
    schema = schema.include(operation_id=permitted)  # (a second include() would widen, not narrow)
    _install_hooks(schema, session)
    return schema


def _install_hooks(schema: Any, session: ContractSession) -> None:
    settings = session.settings
    checkout = session.contract.by_id("startCheckout").label
    prices = _prices_by_paywall(session)

    @schema.hook("map_case")
    def real_prices(context: Any, case: Any) -> Any:
        """Most positive checkouts name a price of the paywall in the path, so success paths get tested
        (chosen from a hash of the case, so a failing example replays identically)."""
        body = case.body
        if case.operation.label != checkout or not isinstance(body, dict) or case.meta is None:
            return case
        offered = prices.get(str((case.path_parameters or {}).get("id")))
        if not offered or case.meta.is_negative_at("body"):
            return case
        pick = zlib.crc32(repr(sorted(body.items(), key=repr)).encode())
        if pick % 10 < 7:
            case.body = {**body, "priceId": offered[pick % len(offered)]}
        return case

    record_failures(schema, session)

    if not settings.control:
        tagged = {session.contract.by_id(op).label for op in ("startCheckout", "getCustomerPortal")}

        @schema.hook("map_case")
        def tag(context: Any, case: Any) -> Any:
            body = case.body
            if isinstance(body, dict) and case.operation.label in tagged:
                meta = body.get("userMeta")
                body["userMeta"] = {**(meta if isinstance(meta, dict) else {}), "conformRun": settings.run_id}
            return case


def call_and_validate(case: Any, session: ContractSession) -> None:
    __tracebackhide__ = True
    case.call_and_validate(session=session.http)


def workflow_machine(session: ContractSession) -> Any:
    base = load_schema(session, only=WORKFLOW_OPERATIONS).as_state_machine()
    http = session.http

    class Workflow(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": http}

    return Workflow


def workflow_settings(session: ContractSession) -> hypothesis.settings:
    budget = session.settings.budget
    return hypothesis.settings(max_examples=budget.stateful_examples, stateful_step_count=budget.stateful_steps,
                               deadline=None, database=None, suppress_health_check=list(hypothesis.HealthCheck),
                               derandomize=session.settings.hypothesis_seed_given)


# --- Paywalls.ai (--paywall-product paywalls-ai) ----------------------------------------------------------

# Reads only, unless writes are allowed; the proxy only on an emulator (elsewhere it spends real provider
# money); subscriptions never (a generated https URL would be delivered to, off this machine).
PAYWALLS_AI_READS = frozenset({"listModels", "getUserBalance", "listWebhookSubscriptions", "getWebhookSubscription",
                               "listWebhookLogs"})
PAYWALLS_AI_PROXY = frozenset({"createChatCompletion", "createUserChatCompletion"})
PAYWALLS_AI_NEVER = frozenset({"createWebhookSubscription"})


def paywalls_ai_allowed(session: ContractSession, operation_id: str) -> bool:
    settings = session.settings
    if operation_id in PAYWALLS_AI_NEVER:
        return False
    if not settings.allow_writes:
        return operation_id in PAYWALLS_AI_READS
    return operation_id not in PAYWALLS_AI_PROXY or settings.control


def load_paywalls_ai_schema(session: ContractSession) -> Any:
    """The Paywalls.ai document with target, Bearer key and budget set before any test is built; generated
    user ids are run-tagged (plus the bundled world's users on an emulator)."""
    session.ready()
    settings = session.settings
    users = [f"conform-{settings.run_id}-gen{i}" for i in range(3)] + (["alice", "carol"] if settings.control else [])
    models = [str(m["id"]) for m in (session.http.get(
        f"{session.base_url}/v1/models", headers={"Authorization": f"Bearer {settings.api_key}"}).json().get("data")
        or []) if isinstance(m, dict)]
    data = base_config(session)
    data["phases"]["stateful"] = {"enabled": False}
    data.update({
        "auth": {"openapi": {"PaywallKey": {"bearer": settings.api_key.replace("$", "$$")}}},
        "dictionaries": {"users": {"values": users}, "models": {"values": models or ["conform-model"]}},
        "parameters": {"query.user": {"dictionary": "users", "probability": 0.8},
                       "body.user": {"dictionary": "users", "probability": 0.8},
                       "header.X-Paywall-User": {"dictionary": "users", "probability": 0.5},
                       "body.model": {"dictionary": "models", "probability": 0.8}},
    })
    schema = schemathesis.openapi.from_path(str(session.contract.path), config=schemathesis.Config.from_dict(data))
    schema = schema.include(operation_id=[op.operation_id for op in session.contract.operations
                                          if paywalls_ai_allowed(session, op.operation_id)])
    record_failures(schema, session)
    return schema
