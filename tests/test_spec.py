"""The OpenAPI documents (the engine's control API, monetize's public and control APIs): valid OpenAPI 3.1,
every operation named and tagged once, control paths only under /_emulator, and every error code the
emulator can produce enumerated in an `ErrorCode` (found by reading the source, not by trusting a list)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

import paywall_emulator
from paywall_emulator.engine import openapi
from paywall_emulator.engine.openapi import (
    CONTROL_SPEC,
    SpecError,
    compile_spec,
    inlined_paths,
    load_document,
    load_spec,
    spec_path,
)
from paywall_emulator.products.monetize.errors import EmulatorError

PUBLIC = load_document(spec_path("monetize.openapi.yaml"))
ENGINE_CONTROL = load_document(spec_path(CONTROL_SPEC))
MONETIZE_CONTROL = load_document(spec_path("monetize.control.openapi.yaml"))
PAYWALLS_AI = load_document(spec_path("paywalls-ai.openapi.yaml"))
PAYWALLS_AI_CONTROL = load_document(spec_path("paywalls-ai.control.openapi.yaml"))
DOCS = {"public": PUBLIC, "control": ENGINE_CONTROL, "monetize control": MONETIZE_CONTROL,
        "paywalls-ai": PAYWALLS_AI, "paywalls-ai control": PAYWALLS_AI_CONTROL}
PACKAGE = Path(paywall_emulator.__file__).parent
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def error_codes(doc: dict[str, Any]) -> set[str]:
    return set(doc["components"]["schemas"]["ErrorCode"]["enum"])


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, method, operation) for every operation under `paths` and `webhooks`."""
    for section in ("paths", "webhooks"):
        for path, item in (doc.get(section) or {}).items():
            for method in METHODS:
                if method in item:
                    yield f"{section} {path}", method, item[method]


def extension_codes(node: Any, name: str) -> Iterator[str]:
    """Every `code` of an `x-error`/`x-auth-missing` extension anywhere in a document."""
    if isinstance(node, dict):
        ext = node.get(name)
        if isinstance(ext, dict):
            yield str(ext["code"])
        for value in node.values():
            yield from extension_codes(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from extension_codes(value, name)


def literal_codes(paths: list[Path]) -> dict[str, set[str]]:
    """`code="..."` keyword arguments and `default_code = "..."` class attributes, per file."""
    found: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        codes: set[str] = set()
        for node in ast.walk(tree):
            keyword = isinstance(node, ast.keyword) and node.arg == "code"
            attribute = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "default_code" for t in node.targets)
            value = getattr(node, "value", None)
            if (keyword or attribute) and isinstance(value, ast.Constant):
                codes.add(str(value.value))
        if codes:
            found[str(path.relative_to(PACKAGE))] = codes
    return found


def all_error_classes() -> set[type[EmulatorError]]:
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="paywall_emulator."):
        if info.name not in ("paywall_emulator.pytest_plugin", "paywall_emulator.__main__"):  # the CLI runs on import
            importlib.import_module(info.name)
    seen: set[type[EmulatorError]] = set()
    todo: list[type[EmulatorError]] = [EmulatorError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    return seen


@pytest.mark.parametrize("name", DOCS)
def test_documents_are_valid_openapi_3_1(name: str) -> None:
    errors = [str(e.message) for e in OpenAPIV31SpecValidator(DOCS[name]).iter_errors()]
    assert errors == []


@pytest.mark.parametrize("name", DOCS)
def test_every_operation_has_an_operation_id_and_exactly_one_declared_tag(name: str) -> None:
    doc = DOCS[name]
    declared = {t["name"] for t in doc.get("tags", [])}
    for where, method, op in operations(doc):
        assert op.get("operationId"), f"{method.upper()} {where} has no operationId"
        tags = op.get("tags") or []
        assert len(tags) == 1, f"{op['operationId']} has tags {tags}"
        assert tags[0] in declared, f"{op['operationId']} uses the undeclared tag {tags[0]!r}"


def test_operation_ids_are_unique_across_both_documents() -> None:
    ids = [op["operationId"] for doc in DOCS.values() for _, _, op in operations(doc)]
    assert sorted(ids) == sorted(set(ids))


def test_control_paths_live_under_emulator_and_public_ones_never_do() -> None:
    for control in (ENGINE_CONTROL, MONETIZE_CONTROL):
        assert control["paths"] and all(p.startswith("/_emulator/") for p in control["paths"])
    assert not [p for p in PUBLIC["paths"] if p.startswith("/_emulator")]


@pytest.mark.parametrize("name", DOCS)
def test_every_operation_declares_its_internal_error(name: str) -> None:
    for where, _method, op in operations(DOCS[name]):
        if where.startswith("paths"):
            assert "500" in op["responses"], f"{op['operationId']} does not declare 500"


@pytest.mark.parametrize("name", DOCS)
@pytest.mark.parametrize("extension", ["x-error", "x-auth-missing"])
def test_extension_codes_are_enumerated(name: str, extension: str) -> None:
    doc = DOCS[name]
    unknown = set(extension_codes(doc, extension)) - error_codes(doc)
    assert not unknown, f"{extension} codes missing from {name} ErrorCode: {sorted(unknown)}"


def test_the_public_document_uses_x_error_somewhere() -> None:
    assert {"missing_parameters", "invalid_url", "invalid_amount", "subject_length"} <= set(
        extension_codes(PUBLIC, "x-error"))


def test_every_code_literal_in_the_emulator_is_enumerated() -> None:
    known = set().union(*(error_codes(doc) for doc in DOCS.values()))
    found = literal_codes(sorted(PACKAGE.rglob("*.py")))
    assert len(found) > 5  # the scan sees the code base
    unknown = {f: sorted(codes - known) for f, codes in found.items() if codes - known}
    assert not unknown, f"codes not in any ErrorCode enum: {unknown}"


def test_control_handlers_only_use_control_codes() -> None:
    control_files = [PACKAGE / "engine" / "control.py",
                     *sorted((PACKAGE / "products" / "monetize" / "handlers").glob("control*.py"))]
    assert len(control_files) > 2
    found = literal_codes(control_files)
    control = error_codes(ENGINE_CONTROL) | error_codes(MONETIZE_CONTROL)
    unknown = {f: sorted(codes - control) for f, codes in found.items() if codes - control}
    assert not unknown, f"control handlers answer codes the control spec does not list: {unknown}"


def test_every_error_class_default_code_is_enumerated() -> None:
    known = set().union(*(error_codes(doc) for doc in DOCS.values()))
    classes = all_error_classes()
    assert len(classes) > 10
    unknown = {c.__qualname__: c.default_code for c in classes if c.default_code not in known}
    assert not unknown, f"error classes whose default code no ErrorCode lists: {unknown}"


class _DuplicateKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping naming the same key twice (plain YAML keeps the last)."""


def _refuse_duplicates(loader: _DuplicateKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _refuse_duplicates)


@pytest.mark.parametrize("name", ["monetize.openapi.yaml", "monetize.control.openapi.yaml", CONTROL_SPEC])
def test_no_mapping_repeats_a_key(name: str) -> None:
    """A repeated key (say a second '409' under one operation) would silently drop the first."""
    text = spec_path(name).read_text(encoding="utf-8")
    assert yaml.load(text, Loader=_DuplicateKeyLoader)["openapi"] == "3.1.0"


def test_duplicate_key_loader_refuses_a_repeat() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key '409'"):
        yaml.load("responses:\n  '409': a\n  '409': b\n", Loader=_DuplicateKeyLoader)


ALL_SPECS = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "spec").glob("*.openapi.yaml"))


@pytest.mark.parametrize("name", ALL_SPECS)
def test_every_operation_of_every_spec_declares_400(name: str) -> None:
    """The door refuses invalid text in any header, query or path value (and bodies nested too deep) on
    every operation, before the handler: each must declare the 400 it can then answer."""
    doc = load_document(spec_path(name))
    missing = [op["operationId"] for where, _, op in operations(doc) if where.startswith("paths")
               and not {"400", "4XX", "default"} & set(op["responses"])]
    assert missing == []


@pytest.mark.parametrize("name", ALL_SPECS)
def test_every_schema_of_every_spec_compiles(name: str) -> None:
    """A start compiles each schema when it is first used, so a schema that does not compile is found
    here, not by the first request that reaches it."""
    spec = compile_spec(load_document(spec_path(name)), name)
    spec.compile_all()
    validators = [v for op in spec.operations for v in (*(p.validator for p in op.parameters),
                                                        *op.body_validators.values(),
                                                        *(v for t in op.response_validators.values()
                                                          for v in t.values()))]
    assert validators and all(v.compiled() is not None for v in validators)


def test_a_schema_that_does_not_compile_is_a_spec_error() -> None:
    spec = compile_spec({"openapi": "3.1.0", "paths": {"/x": {"get": {
        "operationId": "getX", "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"type": "object", "pattern": "("}}}}}}}}}, "broken.openapi.yaml")
    with pytest.raises(SpecError, match="getX response 200 application/json: schema does not compile"):
        spec.compile_all()


@pytest.mark.parametrize("name", sorted(p.name for p in spec_path(CONTROL_SPEC).parent.glob("*.openapi.yaml")))
def test_a_cached_spec_inlines_as_a_fresh_one_with_the_same_sharing(name: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`load_spec` keeps each document's inlined path items in the cache; read back, they equal a fresh
    inlining and share each `$ref` target as it did (what lets one compiled validator serve them all)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = spec_path(name)
    cold = load_spec(path)
    warm = load_spec(path)
    assert warm[1] is not cold[1] and any(tmp_path.rglob("*-inlined-paths-*.marshal"))
    fresh = inlined_paths(load_document(path))
    assert warm == (load_document(path), fresh)
    assert _shape_of_sharing(warm[1]) == _shape_of_sharing(fresh)
    assert [op.operation_id for op in compile_spec(warm[0], name, paths=warm[1]).operations] == \
        [op.operation_id for op in compile_spec(load_document(path), name).operations]


def _shape_of_sharing(tree: Any) -> list[int]:
    """How many times each distinct dict or list is reached, in the order first reached."""
    seen: dict[int, int] = {}
    order: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            if id(node) in seen:
                seen[id(node)] += 1
                return
            seen[id(node)] = 1
            order.append(id(node))
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(tree)
    return [seen[i] for i in order]


def test_cached_inlined_paths_are_those_of_the_code_that_reads_them(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache folder is the user's, shared by every install and checkout, and keyed by a spec's bytes:
    code that inlines differently must not be handed what other code stored for the same spec."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = spec_path(CONTROL_SPEC)
    stored = load_spec(path)[1]
    original = openapi.inline_refs

    def tagged(node: Any, root: Any, _stack: tuple[str, ...] = (), _memo: dict[str, Any] | None = None) -> Any:
        done = original(node, root, _stack, _memo)
        return {**done, "x-tagged": True} if isinstance(done, dict) and not _stack else done

    monkeypatch.setattr(openapi, "inline_refs", tagged)
    changed = load_spec(path)[1]
    assert changed != stored and all(item.get("x-tagged") for item in changed.values())
