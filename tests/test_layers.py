"""The layer rules of ARCHITECTURE.md, checked on the source (AST only, nothing imported):

* pure modules (domain, acquirers, entities, views, errors, pages) never import aiohttp, not even lazily
  in a function, nor through any emulator module they import (the import-time closure);
* the domain never reaches handlers, routing or the app; views never reach handlers, routing or the app;
* the domain imports from `views` only the allowed snapshot renderers, and `views` never imports back
  into a domain module that imports `views` (no cycle);
* handlers never import each other, and every `@operation` function stays thin.

The checker is exercised on small synthetic package trees too, so a real violation is known to fail.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Modules (relative to the package) that must never load aiohttp. A trailing `.*` covers a subpackage.
PURE = ("domain.*", "acquirers.*", "models", "state", "clock", "ids", "views", "errors", "pages")
# The only names the domain may import from `views`: an event's webhook `data` is a snapshot taken at
# the instant of the event (domain/events.py, the documented exception). Other domain functions that
# need a wire shape get the view passed in (checkout's replay record, the gateway's 402 `details`).
DOMAIN_VIEW_IMPORTS = {"domain.events": {"render_webhook_data"}}
HTTP_ONLY = ("handlers.*", "routing", "app")
MAX_HANDLER_STATEMENTS = 12  # one domain call and one view, plus reading the input


@dataclass
class Module:
    name: str  # dotted, relative to the package ("" for the package itself)
    tree: ast.Module
    is_package: bool
    # explicit targets: relative module names, or "ext:<top-level name>" for outside packages
    runtime: set[str] = field(default_factory=set)  # executed on import (module level, not TYPE_CHECKING)
    anywhere: set[str] = field(default_factory=set)  # also inside functions (lazy imports)
    view_names: set[str] = field(default_factory=set)  # names imported `from <package>.views import ...`


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.endswith(".*"):
            base = pattern[:-2]
            if name == base or name.startswith(base + "."):
                return True
        elif name == pattern:
            return True
    return False


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], *, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it runs at import time; `if TYPE_CHECKING:` bodies skipped."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, not in_function
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, in_function=in_function)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _imports(node.body, in_function=True)
        else:  # other compound statements (if, try, with, class bodies) run where they stand
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports([child], in_function=in_function)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from _imports(child.body, in_function=in_function)


def load_package(root: Path, package: str) -> dict[str, Module]:
    """Parse every module under `root/package` and resolve its imports to sibling modules."""
    base = root / package
    modules: dict[str, Module] = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        modules[name] = Module(name, ast.parse(path.read_text(encoding="utf-8"), str(path)), is_package)
    for module in modules.values():
        _resolve(module, modules, package)
    return modules


def _resolve(module: Module, modules: dict[str, Module], package: str) -> None:
    own_package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    own_package = [p for p in own_package if p]
    for node, at_import in _imports(module.tree.body, in_function=False):
        targets: set[str] = set()
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(_internal(alias.name, package, modules) or f"ext:{alias.name.split('.')[0]}")
        else:
            if node.level:
                anchor = own_package[: len(own_package) - (node.level - 1)]
                source = ".".join([*anchor, *(node.module.split(".") if node.module else [])])
            else:
                internal = _internal(node.module or "", package, modules)
                if internal is None:
                    targets.add(f"ext:{(node.module or '').split('.')[0]}")
                    source = None
                else:
                    source = internal
            if source is not None:
                targets.add(source)
                for alias in node.names:
                    child = f"{source}.{alias.name}" if source else alias.name
                    if child in modules:
                        targets.add(child)
                if source == "views":
                    module.view_names.update(alias.name for alias in node.names)
        module.anywhere |= targets
        if at_import:
            module.runtime |= targets


def _internal(dotted: str, package: str, modules: dict[str, Module]) -> str | None:
    if dotted == package:
        return ""
    if dotted.startswith(package + "."):
        name = dotted[len(package) + 1:]
        return name if name in modules else name.rsplit(".", 1)[0] if "." in name else name
    return None


def _with_parents(name: str) -> list[str]:
    parts = name.split(".") if name else []
    return [".".join(parts[:i]) for i in range(len(parts) + 1)]


def reach(modules: dict[str, Module], start: str) -> dict[str, list[str]]:
    """Everything loading `start` loads (its lazy imports included, the others' import-time ones,
    parent packages included), each with the import chain that gets there."""
    chains: dict[str, list[str]] = {}
    queue: deque[tuple[str, list[str]]] = deque()
    for target in modules[start].anywhere:
        for item in (_with_parents(target) if not target.startswith("ext:") else [target]):
            queue.append((item, [start, item]))
    while queue:
        name, chain = queue.popleft()
        if name in chains:
            continue
        chains[name] = chain
        if name == start or name.startswith("ext:") or name not in modules:
            continue
        for target in modules[name].runtime:
            for item in (_with_parents(target) if not target.startswith("ext:") else [target]):
                queue.append((item, [*chain, item]))
    return chains


def _statements(fn: ast.AsyncFunctionDef | ast.FunctionDef) -> int:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return sum(isinstance(node, ast.stmt) for stmt in body for node in ast.walk(stmt))


def _is_operation(fn: ast.AsyncFunctionDef | ast.FunctionDef) -> bool:
    for deco in fn.decorator_list:
        call = deco.func if isinstance(deco, ast.Call) else deco
        if (isinstance(call, ast.Name) and call.id == "operation") or (
                isinstance(call, ast.Attribute) and call.attr == "operation"):
            return True
    return False


def check_layers(root: Path, package: str) -> list[str]:
    modules = load_package(root, package)
    found: list[str] = []

    def show(chain: list[str]) -> str:
        return " -> ".join(c.removeprefix("ext:") if c.startswith("ext:") else f"{package}.{c}".rstrip(".")
                           for c in chain)

    for name in sorted(modules):
        reached = reach(modules, name)
        if _matches(name, PURE) and "ext:aiohttp" in reached:
            found.append(f"{package}.{name} loads aiohttp: {show(reached['ext:aiohttp'])}")
        for forbidden in sorted(r for r in reached if not r.startswith("ext:") and _matches(r, HTTP_ONLY)):
            if _matches(name, ("domain.*", "views")):
                found.append(f"{package}.{name} reaches the HTTP layer: {show(reached[forbidden])}")
        if _matches(name, ("domain.*",)):
            extra = modules[name].view_names - DOMAIN_VIEW_IMPORTS.get(name, set())
            if extra or ("views" in modules[name].anywhere and not modules[name].view_names):
                found.append(f"{package}.{name} imports views ({', '.join(sorted(extra)) or 'the module'}); "
                             "the domain must not depend on wire shapes")
        if name == "views" and "views" in reached:
            found.append(f"{package}.views imports itself back: {show(reached['views'])}")
        if name.startswith("handlers.") and name != "handlers":
            for other in sorted(t for t in modules[name].anywhere if t.startswith("handlers.") and t != name):
                found.append(f"{package}.{name} imports another handler module, {package}.{other}")
            for node in ast.walk(modules[name].tree):
                if isinstance(node, (ast.AsyncFunctionDef, ast.FunctionDef)) and _is_operation(node):
                    count = _statements(node)
                    if count > MAX_HANDLER_STATEMENTS:
                        found.append(f"{package}.{name}.{node.name} is not thin: {count} statements "
                                     f"(at most {MAX_HANDLER_STATEMENTS}); move the rules into the domain")
    return found


PRODUCTS = ROOT / "emulator" / "products"


def test_the_monetize_product_keeps_its_layers() -> None:
    assert check_layers(PRODUCTS, "monetize") == []


def test_the_engine_imports_no_product() -> None:
    modules = load_package(ROOT, "emulator")
    found = sorted(f"{name} -> {target}" for name, m in modules.items() if name.startswith("engine")
                   for target in m.anywhere if target.startswith("products"))
    assert found == []


def test_every_handler_module_is_checked() -> None:
    modules = load_package(PRODUCTS, "monetize")
    handlers = [m for m in modules if m.startswith("handlers.")]
    operations = [n for m in handlers for n in ast.walk(modules[m].tree)
                  if isinstance(n, ast.AsyncFunctionDef) and _is_operation(n)]
    assert len(handlers) >= 10 and len(operations) >= 30  # the engine's control handlers live in engine/control.py


# --- the checker itself, on synthetic trees ----------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"__init__.py": "", "domain/__init__.py": "", "handlers/__init__.py": "", **files}.items():
        path = tmp_path / "fake" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


CLEAN = {
    "models.py": "from dataclasses import dataclass\n",
    "views.py": "from .domain.rules import is_ok\nfrom .models import dataclass\n",
    "domain/rules.py": "from typing import TYPE_CHECKING\nfrom ..models import dataclass\n"
                       "if TYPE_CHECKING:\n    from aiohttp import web\n    from ..app import thing\n"
                       "def is_ok() -> bool:\n    return True\n",
    "domain/events.py": "from ..views import render_webhook_data\n",
    "app.py": "from aiohttp import web\nfrom .handlers import a\n",
    "handlers/a.py": "from aiohttp import web\nfrom ..domain import rules\nfrom ..views import is_ok\n"
                     "@operation('getA')\nasync def get_a(call):\n    return rules.is_ok()\n",
}


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    assert check_layers(_tree(tmp_path, CLEAN), "fake") == []


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"util.py": "import aiohttp.web\n", "domain/rules.py": "from ..util import x\n"},
                 "fake.domain.rules loads aiohttp: fake.domain.rules -> fake.util -> aiohttp", id="transitive"),
    pytest.param({"models.py": "from . import net\n", "net.py": "from aiohttp import web\n"},
                 "fake.models loads aiohttp: fake.models -> fake.net -> aiohttp", id="entities"),
    pytest.param({"domain/rules.py": "def f():\n    import aiohttp\n"},
                 "fake.domain.rules loads aiohttp: fake.domain.rules -> aiohttp", id="lazy-in-function"),
    pytest.param({"domain/rules.py": "from fake.domain import deep\n", "domain/deep.py": "from .. import routing\n",
                  "routing.py": ""},
                 "fake.domain.deep reaches the HTTP layer: fake.domain.deep -> fake.routing", id="domain-routing"),
    pytest.param({"domain/rules.py": "from ..handlers.a import get_a\n"},
                 "fake.domain.rules reaches the HTTP layer: fake.domain.rules -> fake.handlers", id="domain-handler"),
    pytest.param({"views.py": "from .handlers import b\n", "handlers/b.py": ""},
                 "fake.views reaches the HTTP layer: fake.views -> fake.handlers", id="views-handler"),
    pytest.param({"domain/rules.py": "from ..views import render_everything\n", "views.py": ""},
                 "fake.domain.rules imports views (render_everything)", id="domain-views"),
    pytest.param({"domain/rules.py": "from .. import views\n", "views.py": ""},
                 "fake.domain.rules imports views (the module)", id="domain-views-module"),
    pytest.param({"views.py": "from .domain.events import x\n", "domain/events.py": "from ..views import y\n"},
                 "fake.views imports itself back: fake.views -> fake.domain.events -> fake.views", id="cycle"),
    pytest.param({"handlers/a.py": "from . import b\n", "handlers/b.py": ""},
                 "fake.handlers.a imports another handler module, fake.handlers.b", id="handler-handler"),
    pytest.param({"handlers/a.py": "@operation('getA')\nasync def get_a(call):\n"
                  + "".join(f"    x{i} = {i}\n" for i in range(MAX_HANDLER_STATEMENTS + 1))},
                 f"fake.handlers.a.get_a is not thin: {MAX_HANDLER_STATEMENTS + 1} statements", id="fat-handler"),
])
def test_checker_catches(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = check_layers(_tree(tmp_path, {**CLEAN, **files}), "fake")
    assert any(f.startswith(expected) for f in found), found
