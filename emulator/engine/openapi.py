"""Loading the OpenAPI documents and compiling them into operations and validators.

Owns: reading `spec/*.yaml`, inlining local `$ref`s, the `Operation` index (method + path template
+ operationId), and `SchemaValidator` (jsonschema-rs on the hot path; the spec's `x-error`
extension maps a schema violation to a documented error code). No aiohttp.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import marshal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import jsonschema_rs

from .errors import BadRequestError, EmulatorError
from .structs import struct
from .worldfile import data_path
from .yamlfile import YamlError, read_yaml_derived, read_yaml_file

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CONTROL_SPEC = "control.openapi.yaml"  # the engine's own control API


class SpecError(RuntimeError):
    """The spec cannot be compiled (a broken $ref, a duplicate operationId, ...)."""


class RequestValidationError(BadRequestError):
    default_code = "invalid_request"
    default_message = "The request does not match the API specification"


def spec_path(name: str) -> Path:
    return data_path("spec", name)


def load_document(path: Path) -> dict[str, Any]:
    try:
        doc = read_yaml_file(path)
    except (OSError, YamlError) as exc:
        raise SpecError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise SpecError(f"{path} is not an OpenAPI document")
    return doc


def load_spec(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document at `path` and its path items with every `$ref` inlined (`inlined_paths`), both cached
    with the parsed YAML: a warm start inlines nothing."""
    try:
        doc, paths = read_yaml_derived(path, _inlining_version(),
                                       lambda doc: inlined_paths(doc) if isinstance(doc, dict) else {})
    except (OSError, YamlError) as exc:
        raise SpecError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise SpecError(f"{path} is not an OpenAPI document")
    return doc, paths


def _inlining_version() -> str:
    """The cache entry's name for inlined path items: a digest of the code that inlines them. The cache is
    keyed by the spec's bytes alone and shared by every install and checkout of the user, so a release or a
    branch that inlines differently must not read what another one stored for the same spec."""
    return _code_digest(inlined_paths.__code__, inline_refs.__code__)


@functools.cache
def _code_digest(*code: Any) -> str:
    """Once per process and code: each spec a start reads asks again."""
    return f"inlined-paths-{hashlib.sha256(marshal.dumps(code)).hexdigest()[:16]}"


def inlined_paths(document: Mapping[str, Any]) -> dict[str, Any]:
    """Every path item of `document` with its `$ref`s inlined, each target once and shared (one memo)."""
    memo: dict[str, Any] = {}
    return {path: inline_refs(item, document, _memo=memo) for path, item in (document.get("paths") or {}).items()}


def inline_refs(node: Any, root: Mapping[str, Any], _stack: tuple[str, ...] = (),
                _memo: dict[str, Any] | None = None) -> Any:
    """A copy of `node` with every local `$ref` replaced by its target (siblings kept).

    With `_memo` (compile_spec passes one per document), each `$ref` target is inlined once and
    shared wherever it is referenced: the compiled specs are read-only, and a target that resolved
    once has no cycle under any other stack either.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise SpecError(f"only local $refs are supported, got {ref!r}")
            if ref in _stack:
                raise SpecError(f"recursive $ref {ref!r} is not supported")
            if _memo is not None and ref in _memo:
                resolved = _memo[ref]
            else:
                target: Any = root
                for part in ref[2:].split("/"):
                    part = part.replace("~1", "/").replace("~0", "~")
                    try:
                        target = target[part]
                    except (KeyError, TypeError) as exc:
                        raise SpecError(f"$ref {ref!r} does not resolve") from exc
                resolved = inline_refs(target, root, (*_stack, ref), _memo)
                if _memo is not None:
                    _memo[ref] = resolved
            siblings = {k: inline_refs(v, root, _stack, _memo) for k, v in node.items() if k != "$ref"}
            if not siblings:
                return resolved
            if isinstance(resolved, dict):
                return {**resolved, **siblings}
            return resolved
        return {k: inline_refs(v, root, _stack, _memo) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(v, root, _stack, _memo) for v in node]
    return node


@struct
class SchemaValidator:
    """A JSON Schema (Draft 2020-12, formats asserted) with documented-error mapping, compiled when first
    used: a start compiles none of the specs' few hundred schemas (`ApiSpec.compile_all` compiles every
    one, so tests/test_spec.py still finds a schema that does not compile)."""

    schema: Any
    where: str
    # Compiled validators by schema object, shared within one spec: `compile_spec` inlines each `$ref`
    # target once, so e.g. the error envelope of a hundred responses is one object, compiled once.
    shared: dict[int, tuple[Any, Any]] | None = field(default=None, repr=False, compare=False)
    _compiled: Any = field(default=None, init=False, repr=False)

    def compiled(self) -> Any:
        if self._compiled is not None:
            return self._compiled
        known = self.shared.get(id(self.schema)) if self.shared is not None else None
        if known is not None and known[0] is self.schema:
            self._compiled = known[1]
            return self._compiled
        try:
            self._compiled = jsonschema_rs.validator_for(self.schema, validate_formats=True)
        except Exception as exc:  # the library raises its own ValidationError/ValueError types
            raise SpecError(f"{self.where}: schema does not compile: {exc}") from exc
        if self.shared is not None:
            self.shared[id(self.schema)] = (self.schema, self._compiled)  # keeps the schema alive: ids stay unique
        return self._compiled

    def is_valid(self, instance: Any) -> bool:
        return bool(self.compiled().is_valid(instance))

    def messages(self, instance: Any, limit: int = 5) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for err in self.compiled().iter_errors(instance):
            out.append({"path": _pointer(err.instance_path), "schema_path": _pointer(err.schema_path),
                        "message": str(err.message)})
            if len(out) >= limit:
                break
        return out

    def check(self, instance: Any, *, location: str) -> None:
        """Raise the documented error for the first violation, or 400 invalid_request."""
        compiled = self.compiled()
        if compiled.is_valid(instance):
            return
        errors = list(compiled.iter_errors(instance))
        first = min(errors, key=lambda e: (len(list(e.instance_path)), _pointer(e.schema_path)))
        details = [{"path": f"{location}{_pointer(e.instance_path)}", "message": str(e.message)}
                   for e in errors[:5]]
        mapped = self._x_error(first)
        if mapped is not None:
            raise documented_error(mapped, str(first.message), details)
        raise RequestValidationError(f"{location}{_pointer(first.instance_path)}: {first.message}",
                                     details=details)

    def _x_error(self, err: Any) -> Mapping[str, Any] | None:
        nodes = list(_walk(self.schema, list(err.schema_path)))
        missing = getattr(err.kind, "property", None) if type(err.kind).__name__ == "Required" else None
        holder = nodes[-2] if len(nodes) >= 2 else None  # the object whose `required` list failed
        if missing is not None and isinstance(holder, dict):
            prop = (holder.get("properties") or {}).get(missing)
            if isinstance(prop, dict) and isinstance(prop.get("x-error"), dict):
                return prop["x-error"]  # type: ignore[no-any-return]
        for node in reversed(nodes):
            if isinstance(node, dict) and isinstance(node.get("x-error"), dict):
                return node["x-error"]  # type: ignore[no-any-return]
        return None


def documented_error(mapped: Mapping[str, Any], fallback: str, details: list[dict[str, str]]) -> BadRequestError:
    """The 400 an `x-error: {code, message, error?}` documents (`error` defaults to the message)."""
    return BadRequestError(str(mapped.get("message") or fallback), code=str(mapped["code"]),
                           error=str(mapped.get("error") or mapped.get("message") or mapped["code"]), details=details)


def _walk(schema: Any, path: list[Any]) -> Iterator[Any]:
    node = schema
    yield node
    for part in path:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return
        yield node


def _pointer(path: Any) -> str:
    parts = list(path)
    return "".join(f"/{p}" for p in parts)


@struct
class Parameter:
    name: str
    location: str  # path | query | header
    required: bool
    schema: dict[str, Any]
    validator: SchemaValidator
    # Raw values already coerced and found valid -> their coerced value (the same `id` or header
    # comes with almost every request; validating it again gives the same answer). Bounded.
    accepted: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def missing(self) -> BadRequestError:
        """The answer when the parameter is required and absent: its schema's own `x-error` when it has one
        (what a value violating the schema answers too), else 400 `invalid_request`."""
        message = f"{self.location} parameter {self.name!r} is required"
        mapped = self.schema.get("x-error")
        if isinstance(mapped, dict):
            return documented_error(mapped, message, [{"path": f"{self.location}.{self.name}", "message": message}])
        return BadRequestError(message, code="invalid_request")


@struct
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # OpenAPI template, e.g. /api/v1/paywall/{id}/bootstrap
    spec: str  # "public" | "control"
    product: str  # the product serving it ("" for the engine's own control operations)
    security: list[dict[str, list[str]]] | None
    parameters: list[Parameter]
    body_required: bool
    body_validators: dict[str, SchemaValidator]  # media type -> validator
    response_validators: dict[str, dict[str, SchemaValidator]]  # status key -> media type -> v
    raw: dict[str, Any]
    # Hot-path indexes, derived once from the fields above (scripts/bench.py):
    params_in: dict[str, tuple[Parameter, ...]] = field(init=False, repr=False, compare=False)
    public: bool = field(init=False, repr=False, compare=False)  # some security alternative is empty (none needed)
    json_responses: dict[int, tuple[bool, SchemaValidator | None]] = field(
        init=False, repr=False, compare=False, default_factory=dict)  # status -> (declared, validator)
    valid_replies: dict[tuple[int, bytes], None] = field(
        init=False, repr=False, compare=False, default_factory=dict)  # JSON payloads found valid, bounded
    valid_bodies: dict[tuple[str, bytes], None] = field(
        init=False, repr=False, compare=False, default_factory=dict)  # JSON request bodies found valid, bounded
    encoded: dict[int, tuple[Any, bytes]] = field(
        init=False, repr=False, compare=False, default_factory=dict)  # id(reused body) -> (body, its JSON)

    def __post_init__(self) -> None:
        self.public = self.security is None or not self.security or any(not alt for alt in self.security)
        self.params_in = {where: tuple(p for p in self.parameters if p.location == where)
                          for where in ("path", "query", "header")}

    def json_response(self, status: int) -> tuple[bool, SchemaValidator | None]:
        """(status declared?, the validator of its application/json body), memoised per status."""
        found = self.json_responses.get(status)
        if found is None:
            found = self.json_responses[status] = (self.declares_status(status),
                                                   self.response_validator(status, "application/json"))
        return found

    def extension(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)

    def allows(self, scheme: str) -> bool:
        return self.security is None or any(scheme in alt for alt in self.security)

    def response_validator(self, status: int, media_type: str) -> SchemaValidator | None:
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            by_type = self.response_validators.get(key)
            if by_type is not None:
                return by_type.get(media_type) or by_type.get("*/*")
        return None

    def declares_status(self, status: int) -> bool:
        keys = self.raw.get("responses", {})
        return any(k in keys for k in (str(status), f"{str(status)[0]}XX", "default"))


@struct
class ApiSpec:
    name: str  # the document's file name
    document: dict[str, Any]
    operations: list[Operation]
    kind: str = "public"  # "public" | "control"
    product: str = ""  # "" for the engine's own control API

    def by_id(self) -> dict[str, Operation]:
        return {op.operation_id: op for op in self.operations}

    def compile_all(self) -> None:
        """Compile every schema now (SpecError for one that does not compile); serving compiles each when
        it is first used."""
        for op in self.operations:
            for validator in (*(p.validator for p in op.parameters), *op.body_validators.values(),
                              *(v for by_type in op.response_validators.values() for v in by_type.values())):
                validator.compiled()


def compile_spec(document: dict[str, Any], name: str, *, kind: str = "public", product: str = "",
                 paths: Mapping[str, Any] | None = None) -> ApiSpec:
    """Compile one document; `kind` says whether its operations are public API or control API; `paths`
    are its `inlined_paths` when the caller has them already."""
    operations: list[Operation] = []
    seen: set[str] = set()
    compiled: dict[int, tuple[Any, Any]] = {}
    for path, item in (inlined_paths(document) if paths is None else paths).items():
        shared_params = item.get("parameters", [])
        for method in HTTP_METHODS:
            raw = item.get(method)
            if raw is None:
                continue
            op_id = raw.get("operationId")
            if not op_id:
                raise SpecError(f"{method.upper()} {path} has no operationId")
            if op_id in seen:
                raise SpecError(f"duplicate operationId {op_id!r}")
            seen.add(op_id)
            operations.append(_compile_operation(kind, product, path, method, raw, shared_params, compiled))
    return ApiSpec(name=name, document=document, operations=operations, kind=kind, product=product)


def _compile_operation(spec: str, product: str, path: str, method: str, raw: dict[str, Any],
                       shared: list[dict[str, Any]], compiled: dict[int, tuple[Any, Any]]) -> Operation:
    op_id = raw["operationId"]
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for p in [*shared, *raw.get("parameters", [])]:
        params[(p["in"], p["name"].lower() if p["in"] == "header" else p["name"])] = p
    parameters = [
        Parameter(
            name=p["name"],
            location=p["in"],
            required=bool(p.get("required", p["in"] == "path")),
            schema=p.get("schema", {}),
            validator=SchemaValidator(p.get("schema", {}), f"{op_id} {p['in']} {p['name']}", compiled),
        )
        for p in params.values()
        if p["in"] in ("path", "query", "header")
    ]
    body = raw.get("requestBody") or {}
    body_schemas = {mt: (c.get("schema") or {}) for mt, c in (body.get("content") or {}).items()}
    body_validators = {mt: SchemaValidator(_json_part(s, mt), f"{op_id} body {mt}", compiled)
                       for mt, s in body_schemas.items()}
    responses: dict[str, dict[str, SchemaValidator]] = {}
    for status, resp in (raw.get("responses") or {}).items():
        by_type: dict[str, SchemaValidator] = {}
        for mt, content in (resp.get("content") or {}).items():
            if "schema" in content and ("json" in mt):
                by_type[mt] = SchemaValidator(content["schema"], f"{op_id} response {status} {mt}", compiled)
        responses[str(status)] = by_type
    return Operation(
        operation_id=op_id, method=method.upper(), path=path, spec=spec, product=product,
        security=raw.get("security"), parameters=parameters, body_required=bool(body.get("required")),
        body_validators=body_validators, response_validators=responses,
        raw=raw,
    )


def _json_part(schema: dict[str, Any], media_type: str) -> dict[str, Any]:
    """For multipart bodies, the schema of the non-file fields (files are checked by the domain)."""
    if not media_type.startswith("multipart/"):
        return schema
    trimmed = copy.deepcopy(schema)
    props = trimmed.get("properties") or {}
    for key in [k for k, v in props.items() if _is_binary(v)]:
        props.pop(key)
        if key in trimmed.get("required", []):
            trimmed["required"].remove(key)
    return trimmed


def _is_binary(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("format") == "binary" or "contentMediaType" in schema:
        return True
    items = schema.get("items")
    return isinstance(items, dict) and _is_binary(items)


def coerce_parameter(value: str, schema: Mapping[str, Any]) -> Any:
    """Turn a query/header string into the type its schema names, when it parses cleanly."""
    types = schema.get("type")
    kinds = types if isinstance(types, list) else [types]
    if "integer" in kinds:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            pass
    if "boolean" in kinds and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _compact_encoder() -> Callable[[Any], str]:
    """What `json.dumps(body, separators=(",", ":"), ensure_ascii=False)` does, without building an
    encoder on every call: the C encoder is made once (every answer pays for it otherwise), with no
    circular-reference check (answers are trees). The pure-Python encoder where `_json` is missing."""
    fallback = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    if c_make_encoder is None:
        return fallback.encode
    iterencode = c_make_encoder(None, fallback.default, encode_basestring, None, ":", ",", False, False, True)
    return lambda body: "".join(iterencode(body, 0))


_ENCODE = _compact_encoder()


def dumps(body: Any) -> bytes:
    return _ENCODE(body).encode()


__all__ = [
    "ApiSpec", "EmulatorError", "Operation", "Parameter", "RequestValidationError", "SchemaValidator",
    "SpecError", "coerce_parameter", "compile_spec", "dumps",
]
