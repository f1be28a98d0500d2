"""PayKit's two documents: valid OpenAPI 3.1 (openapi-spec-validator), every operation named and tagged
once, operationIds unique across every document the emulator serves, control paths only under
/_emulator/paykit, every public operation declaring its 500, every refusal status the PayKit code can
raise declared by an operation, and each operation bound to a handler of the product."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from paywall_emulator.app import bundled_products
from paywall_emulator.engine.openapi import CONTROL_SPEC, load_document, spec_path
from paywall_emulator.engine.routing import collect_handlers
from paywall_emulator.products.paykit import product as paykit_product

PUBLIC = load_document(spec_path("paykit.openapi.yaml"))
CONTROL = load_document(spec_path("paykit.control.openapi.yaml"))
DOCS = {"public": PUBLIC, "control": CONTROL}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PACKAGE = Path(paykit_product.__file__).parent


def operations(doc: dict[str, Any], *, webhooks: bool = True) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for section in ("paths", "webhooks") if webhooks else ("paths",):
        for path, item in (doc.get(section) or {}).items():
            for method in METHODS:
                if method in item:
                    yield path, method, item[method]


@pytest.mark.parametrize("name", DOCS)
def test_documents_are_valid_openapi_3_1(name: str) -> None:
    assert [str(e.message) for e in OpenAPIV31SpecValidator(DOCS[name]).iter_errors()] == []


@pytest.mark.parametrize("name", DOCS)
def test_every_operation_has_an_operation_id_and_one_declared_tag(name: str) -> None:
    declared = {t["name"] for t in DOCS[name]["tags"]}
    for path, method, op in operations(DOCS[name]):
        assert op.get("operationId"), f"{method} {path}"
        assert len(op.get("tags", [])) == 1 and op["tags"][0] in declared, f"{method} {path}"


def test_operation_ids_are_unique_across_every_served_document() -> None:
    files = [CONTROL_SPEC, *(f for p in bundled_products() for f in (p.spec, p.control_spec) if f)]
    ids = [op["operationId"] for f in files for _, _, op in operations(load_document(spec_path(f)))]
    assert len(ids) == len(set(ids))


def test_paths_public_and_control() -> None:
    assert all(not p.startswith("/_emulator") for p in PUBLIC["paths"])
    assert all(p.startswith("/_emulator/paykit/") for p in CONTROL["paths"])
    assert set(PUBLIC["paths"]) == {"/api/v1/access", "/api/v1/meter", "/api/v1/credits", "/api/v1/checkout",
                                    "/api/v1/portal", "/api/v1/webhook", "/api/v1/analytics", "/api/v1/accounts",
                                    "/api/v1/projects", "/embed.js"}
    assert set(PUBLIC["paths"]["/api/v1/projects"]) == {"get", "post", "patch"}


def test_every_public_json_operation_declares_500() -> None:
    for path, method, op in operations(PUBLIC, webhooks=False):
        if path != "/embed.js":
            assert "500" in op["responses"], f"{method} {path}"


def _refusal_statuses() -> set[int]:
    """Every literal status of a `refuse(<status>, ...)` call in the product's code."""
    found: set[int] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "refuse" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, int):
                    found.add(first.value)
    return found


def test_every_refusal_status_is_declared_somewhere() -> None:
    declared = {int(code) for doc in DOCS.values() for _, _, op in operations(doc, webhooks=False)
                for code in op["responses"]}
    assert _refusal_statuses() <= declared
    assert {400, 401, 402, 403, 404, 409, 500, 501} <= _refusal_statuses()


def test_limits_in_the_spec_match_the_domain() -> None:
    schemas = PUBLIC["components"]["schemas"]
    meter = schemas["MeterRequest"]["properties"]
    assert (meter["event"]["minLength"], meter["event"]["maxLength"]) == (1, 64)
    assert (meter["cost"]["minimum"], meter["cost"]["maximum"]) == (1, 1_000_000)
    assert (meter["costUsd"]["minimum"], meter["costUsd"]["maximum"]) == (0, 1_000_000)
    credits = schemas["CreditsRequest"]["properties"]
    assert (credits["amount"]["minimum"], credits["amount"]["maximum"]) == (1, 1_000_000)
    assert credits["plan"]["enum"] == ["free", "pro"]
    assert schemas["CheckoutRequest"]["properties"]["kind"]["enum"] == ["credits", "pro"]


def test_every_operation_has_a_paykit_handler() -> None:
    handlers = collect_handlers(paykit_product.PRODUCT.handlers)
    ids = {op["operationId"] for doc in DOCS.values() for _, _, op in operations(doc, webhooks=False)}
    assert set(handlers) == ids
