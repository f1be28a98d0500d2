"""The Paywalls.ai documents are valid OpenAPI 3.1; every operation is named and tagged once; the
product's error codes are all enumerated in the spec's ErrorCode."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "emulator" / "products" / "paywalls_ai"
DOCS = {name: yaml.safe_load((ROOT / "spec" / name).read_text())
        for name in ("paywalls-ai.openapi.yaml", "paywalls-ai.control.openapi.yaml")}
METHODS = ("get", "put", "post", "delete", "patch")


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [item[m] for section in ("paths", "webhooks") for item in (doc.get(section) or {}).values()
            for m in METHODS if m in item]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_valid_openapi_31(name: str) -> None:
    OpenAPIV31SpecValidator(DOCS[name]).validate()


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_operation_has_an_id_and_a_declared_tag(name: str) -> None:
    doc = DOCS[name]
    tags = {t["name"] for t in doc["tags"]}
    ops = operations(doc)
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    assert all(len(op["tags"]) == 1 and op["tags"][0] in tags for op in ops)


def test_public_paths_are_the_documented_ones() -> None:
    found = {(path, m.upper()) for path, item in DOCS["paywalls-ai.openapi.yaml"]["paths"].items()
             for m in METHODS if m in item}
    assert found == {
        ("/v1/chat/completions", "POST"), ("/v1/{user}/chat/completions", "POST"), ("/v1/models", "GET"),
        ("/v1/user/balance", "GET"), ("/v1/user/balance/topup", "GET"), ("/v1/user/balance/deposit", "POST"),
        ("/v1/user/charge", "POST"), ("/v1/user/connect", "GET"), ("/v1/user/disconnect", "GET"),
        ("/v1/webhooks/subscriptions", "POST"), ("/v1/webhooks/subscriptions", "GET"),
        ("/v1/webhooks/subscriptions/{subscriptionId}", "GET"),
        ("/v1/webhooks/subscriptions/{subscriptionId}", "DELETE"), ("/v1/webhooks/logs", "GET")}
    assert all(p.startswith("/_emulator/paywalls-ai/") for p in DOCS["paywalls-ai.control.openapi.yaml"]["paths"])


def test_every_error_code_of_the_product_is_enumerated() -> None:
    declared = set(DOCS["paywalls-ai.openapi.yaml"]["components"]["schemas"]["ErrorCode"]["enum"])
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
                found.add(str(node.value.value))
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "default_code" for t in node.targets):
                found.add(str(node.value.value))  # type: ignore[attr-defined]
    assert found - declared == set()
