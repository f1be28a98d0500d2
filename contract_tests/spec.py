"""The contract as data: where the OpenAPI document is, which operation a request hit, and the webhook
payload schemas (OAS 3.1 `webhooks:` are not used by Schemathesis, so deliveries are checked here).

Reads the YAML directly; never imports `emulator`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_NAME = "monetize.openapi.yaml"
SPEC_NAMES = {"monetize": SPEC_NAME, "paykit": "paykit.openapi.yaml",
              "paywalls-ai": "paywalls-ai.openapi.yaml"}  # per --paywall-product
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
# Operations that only read: the only ones a run without --allow-writes sends (the gateway's GETs charge
# tokens and create users, so they count as writes).
READ_OPERATIONS = frozenset({"getBootstrap", "getUserState", "getUser", "getBalances"})
GATEWAY_TAG = "gateway"


def bundled_spec_path(product: str = "monetize") -> Path:
    """The product's document shipped with the package (wheel) or the repository's `spec/` (checkout)."""
    name = SPEC_NAMES[product]
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / "spec" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name} is neither in {here / '_data'} nor in {here.parent / 'spec'}; "
                            "pass --paywall-spec")


@dataclass(frozen=True, slots=True)
class OperationInfo:
    operation_id: str
    method: str  # upper case
    path: str  # template
    tags: tuple[str, ...]
    pattern: re.Pattern[str]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def reads_only(self) -> bool:
        return self.operation_id in READ_OPERATIONS


@dataclass(frozen=True, slots=True)
class Contract:
    path: Path
    document: dict[str, Any]
    operations: tuple[OperationInfo, ...]

    def by_id(self, operation_id: str) -> OperationInfo:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def match(self, method: str, path: str) -> OperationInfo | None:
        """The operation a concrete request path belongs to (static templates win over templated ones)."""
        method = method.upper()
        for op in self.operations:
            if op.method == method and op.pattern.fullmatch(path):
                return op
        return None

    def webhook_schema(self, event_type: str) -> dict[str, Any]:
        """The JSON Schema of one webhook event's body, with `components` attached so `$ref`s resolve."""
        body = self.document["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", **body["schema"],
                "components": self.document["components"]}

    def webhook_types(self) -> list[str]:
        return list(self.document.get("webhooks", {}))


def _pattern(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in re.finditer(r"\{([^}]+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(".+" if m.group(1) == "path" else "[^/]+")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


class SpecError(ValueError):
    """The document given with --paywall-spec cannot be read as an OpenAPI document: one line naming the
    file (and the line and column of a YAML mistake), for a usage error instead of a traceback."""


@cache
def load(path: Path | None = None) -> Contract:
    spec_path = (path or bundled_spec_path()).resolve()
    shown = path or spec_path
    try:
        with spec_path.open(encoding="utf-8") as fh:
            document = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise SpecError(f"--paywall-spec {shown}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SpecError(f"--paywall-spec {shown}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem, context = getattr(exc, "problem", None), getattr(exc, "context", None)
        reason = f"{problem} ({context})" if problem and context else problem or str(exc)
        raise SpecError(f"--paywall-spec {shown}{where}: not valid YAML: {reason}") from None
    if not isinstance(document, dict) or "openapi" not in document or not isinstance(document.get("paths"), dict):
        raise SpecError(f"--paywall-spec {shown}: not an OpenAPI document (it needs `openapi` and `paths`)")
    ops = []
    for template, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                raw = item[method]
                if not isinstance(raw, dict) or not isinstance(raw.get("operationId"), str):
                    raise SpecError(f"--paywall-spec {shown}: {method.upper()} {template} has no operationId (the "
                                    "suite names every operation by it)")
                ops.append(OperationInfo(operation_id=raw["operationId"], method=method.upper(), path=template,
                                         tags=tuple(raw.get("tags", ())), pattern=_pattern(template)))
    ops.sort(key=lambda o: ("{" in o.path, -o.path.count("/")))
    return Contract(path=spec_path, document=document, operations=tuple(ops))
