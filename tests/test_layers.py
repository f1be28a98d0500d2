"""The layer rules of ARCHITECTURE.md, checked on the source of the whole `emulator/` tree (AST only,
nothing imported), with no exemption:

* pure modules never load aiohttp, not even lazily in a function, nor through any module they import
  (the import-time closure): the engine's model (clock, ids, errors, product, world, world files, faults,
  travel, views, openapi, ...) and, in every product, its domain, acquirers, entities, state, world
  section, views, errors, pages and webhook outbox;
* a product's model side (domain, acquirers, entities, state, world section, its errors and the pure
  helpers its package lists in `DOMAIN_HELPERS`) never imports nor reaches a wire-shape module of the
  product (`views*`, `pages*`: `views`, `views_stripe`, `pages_auth`, ...), and imports nothing else of
  its product: a module building wire shapes under another name fails too, however it is named; no pure
  module (the domain and the views included) reaches the HTTP layer (handlers, routing, middleware, the
  control handlers, the app keys, the app);
* the engine imports no product and no tool; products import no tool and never each other;
* no import cycle at import time, anywhere;
* handlers never import each other, and every `@operation` function stays thin.

Products are found, not listed: every package under `emulator/products/` gets the product rules. The
checker is exercised on small synthetic trees too, so each rule is known to fail on a violation.
"""

from __future__ import annotations

import ast
import functools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("paywall_emulator",)  # the installed import name; the repository's folder name is accepted too

# Engine modules (relative to the package) that must never load aiohttp.
ENGINE_PURE = ("config", "engine", "engine.call", "engine.clock", "engine.ids", "engine.errors", "engine.product",
               "engine.world", "engine.worldfile", "engine.yamlfile", "engine.faults", "engine.travel",
               "engine.timestamps", "engine.views", "engine.openapi", "engine.cache", "engine.history",
               "engine.values", "engine.snapshot", "engine.moves", "engine.inspector", "engine.templates",
               "engine.structs")
# In every product (relative to `products.<name>`): what must never load aiohttp (a trailing `.*` covers a
# subpackage), what counts as its domain, and its HTTP entry points.
# A bare trailing `*` is a name prefix (`views*`: views, views_auth, views_stripe, a views/ package).
PRODUCT_PURE = ("", "domain.*", "acquirers.*", "models*", "state", "worldfile", "world", "views*", "errors", "pages*",
                "webhooks")
PRODUCT_DOMAIN = ("domain.*", "acquirers.*", "models*", "state", "worldfile", "world")
# The product's wire-shape modules: the model side never imports them, nor reaches them.
PRODUCT_WIRE = ("views*", "pages*")
# Besides its domain, what the model side may import of its own product: the refusals it raises, and the
# pure helpers the product's package lists (`DOMAIN_HELPERS = ("signing",)` in products/<p>/__init__.py).
PRODUCT_SHARED = ("errors",)
HELPERS = "DOMAIN_HELPERS"
PRODUCT_HANDLERS = ("handlers.*",)
# The HTTP layer the domain and the views never reach (besides every product's handlers).
HTTP = ("app", "engine.routing", "engine.middleware", "engine.control", "engine.keys", "engine.delivery",
        "engine.fake_provider")
# The tools on top: the harness, the CLI, the contract-kit runner, the pytest plugin.
TOOLS = ("testing.*", "cli", "conform", "pytest_plugin", "__main__")
MAX_HANDLER_STATEMENTS = 12  # one domain call and one view, plus reading the input


@dataclass
class Module:
    name: str  # dotted, relative to the package ("" for the package itself)
    tree: ast.Module
    is_package: bool
    # internal targets are module names relative to the package; others are "ext:<top-level name>"
    runtime: set[str] = field(default_factory=set)  # executed on import (module level, not TYPE_CHECKING)
    anywhere: set[str] = field(default_factory=set)  # also inside functions (lazy imports)
    typing: set[str] = field(default_factory=set)  # every import, `if TYPE_CHECKING:` ones included


def _matches(name: str, patterns: tuple[str, ...], prefix: str = "") -> bool:
    """Whether `name` is one of `patterns` (taken relative to `prefix`; `x.*` is x and everything under it)."""
    if prefix:
        if name != prefix and not name.startswith(prefix + "."):
            return False
        name = name[len(prefix) + 1:]
    for pattern in patterns:
        if pattern.endswith(".*"):
            base = pattern[:-2]
            if name == base or name.startswith(base + "."):
                return True
        elif pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def product_of(name: str) -> str | None:
    """`products.<x>` for a module of product x, else None."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and parts[0] == "products" else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], *, in_function: bool,
             typing_only: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    """Every import statement, with whether it runs at import time and whether it is for typing only."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, not in_function and not typing_only, typing_only
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.body, in_function=in_function, typing_only=True)
            yield from _imports(node.orelse, in_function=in_function, typing_only=typing_only)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _imports(node.body, in_function=True, typing_only=typing_only)
        else:  # other compound statements (if, try, with, class bodies) run where they stand
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports([child], in_function=in_function, typing_only=typing_only)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from _imports(child.body, in_function=in_function, typing_only=typing_only)


def load_tree(root: Path, package: str) -> dict[str, Module]:
    """Parse every module under `root/package` and resolve its imports to modules of the tree. This
    checkout's own tree is parsed once per session (several tests read it; none changes it)."""
    if root == ROOT:
        return _this_checkout(package)
    return _load_tree(root, package)


@functools.cache
def _this_checkout(package: str) -> dict[str, Module]:
    return _load_tree(ROOT, package)


def _load_tree(root: Path, package: str) -> dict[str, Module]:
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
        _resolve(module, modules, (package, *NAMES))
    return modules


def _resolve(module: Module, modules: dict[str, Module], names: tuple[str, ...]) -> None:
    own_package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    own_package = [p for p in own_package if p]
    for node, at_import, typing_only in _imports(module.tree.body, in_function=False, typing_only=False):
        targets: set[str] = set()
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(_internal(alias.name, names, modules) or f"ext:{alias.name.split('.')[0]}")
        else:
            if node.level:
                anchor = own_package[: len(own_package) - (node.level - 1)]
                source: str | None = _closest(".".join([*anchor, *(node.module or "").split(".")]).strip("."),
                                              modules)
            else:
                source = _internal(node.module or "", names, modules)
                if source is None:
                    targets.add(f"ext:{(node.module or '').split('.')[0]}")
            if source is not None:
                targets.add(source)
                for alias in node.names:
                    child = f"{source}.{alias.name}" if source else alias.name
                    if child in modules:
                        targets.add(child)
        module.typing |= targets
        if not typing_only:
            module.anywhere |= targets
        if at_import:
            module.runtime |= targets


def _internal(dotted: str, names: tuple[str, ...], modules: dict[str, Module]) -> str | None:
    for package in names:
        if dotted == package:
            return ""
        if dotted.startswith(package + "."):
            return _closest(dotted[len(package) + 1:], modules)
    return None


def _closest(name: str, modules: dict[str, Module]) -> str:
    """The module `name` names, or `missing:<name>` for one outside the tree (the contract kit the wheel adds)."""
    return name if name in modules else f"missing:{name}"


def _with_parents(name: str) -> list[str]:
    if name.startswith(("ext:", "missing:")):
        return [name]
    parts = name.split(".") if name else []
    return [".".join(parts[:i]) for i in range(len(parts) + 1)]


def reach(modules: dict[str, Module], start: str, *, lazy: bool = True) -> dict[str, list[str]]:
    """Everything loading `start` loads (with `lazy`, its own function-level imports too; the others'
    import-time ones, parent packages included), each with the import chain that gets there."""
    chains: dict[str, list[str]] = {}
    queue: deque[tuple[str, list[str]]] = deque()
    for target in modules[start].anywhere if lazy else modules[start].runtime:
        for item in _with_parents(target):
            queue.append((item, [start, item]))
    while queue:
        name, chain = queue.popleft()
        if name in chains:
            continue
        chains[name] = chain
        if name == start or name not in modules:
            continue
        for target in modules[name].runtime:
            for item in _with_parents(target):
                queue.append((item, [*chain, item]))
    return chains


def import_cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Cycles of the import-time graph (a module importing one of its own parent packages is no cycle:
    the parent is already loading). One example cycle per strongly connected component."""
    def ancestor(item: str, name: str) -> bool:
        return item != name and (item == "" or name.startswith(item + "."))

    graph = {name: sorted({item for target in m.runtime for item in _with_parents(target)
                           if item in modules and item != name and not ancestor(item, name)})
             for name, m in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan, iterative over one node's edges at a time
        work = [(node, iter(graph[node]))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[current] = min(low[current], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[current])
                if low[current] == index[current]:
                    component = []
                    while True:
                        item = stack.pop()
                        on_stack.discard(item)
                        component.append(item)
                        if item == current:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    cycles = []
    for component in sorted(components):
        start, members = component[0], set(component)
        paths: dict[str, list[str]] = {start: [start]}
        queue = deque([start])
        found: list[str] | None = None
        while queue and found is None:
            current = queue.popleft()
            for nxt in graph[current]:
                if nxt == start:
                    found = [*paths[current], start]
                    break
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[current], nxt]
                    queue.append(nxt)
        cycles.append(found or component)
    return cycles


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


def operations(modules: dict[str, Module]) -> Iterator[tuple[str, ast.AsyncFunctionDef | ast.FunctionDef]]:
    for name in sorted(modules):
        for node in ast.walk(modules[name].tree):
            if isinstance(node, (ast.AsyncFunctionDef, ast.FunctionDef)) and _is_operation(node):
                yield name, node


def products(modules: dict[str, Module]) -> list[str]:
    return sorted({p for name in modules if (p := product_of(name)) is not None})


def domain_helpers(modules: dict[str, Module], product: str) -> tuple[tuple[str, ...], list[str]]:
    """The helpers `products/<p>/__init__.py` lists in `DOMAIN_HELPERS` (names relative to the product),
    and what is wrong with the list: not a tuple of names, a module that does not exist, a wire shape."""
    names: list[str] = []
    problems: list[str] = []
    package = modules.get(product)
    for node in package.tree.body if package else []:
        if not (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == HELPERS
                                                     for t in node.targets)):
            continue
        items = node.value.elts if isinstance(node.value, (ast.Tuple, ast.List)) else None
        if items is None or not all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
            problems.append(f"{HELPERS} is not a tuple of module names")
            continue
        names.extend(str(i.value) for i in items if isinstance(i, ast.Constant))
    for helper in names:
        if _matches(helper, PRODUCT_WIRE):
            problems.append(f"{HELPERS} lists {helper}, a wire-shape module")
        elif f"{product}.{helper}" not in modules:
            problems.append(f"{HELPERS} lists {helper}, which does not exist")
    return tuple(names), problems


def check_tree(root: Path, package: str) -> list[str]:
    """Every violation of the layer rules in the tree `root/package`, one line each."""
    modules = load_tree(root, package)
    found: list[str] = []

    def show(chain: list[str]) -> str:
        return " -> ".join(c.split(":", 1)[1] if ":" in c else f"{package}.{c}".rstrip(".") for c in chain)

    def full(name: str) -> str:
        return f"{package}.{name}".rstrip(".")

    def internal(targets: set[str]) -> list[str]:
        return sorted(t for t in targets if not t.startswith(("ext:", "missing:")))

    helpers: dict[str, tuple[str, ...]] = {}
    for product in products(modules):
        helpers[product], problems = domain_helpers(modules, product)
        found.extend(f"{full(product)}: {problem}" for problem in problems)
    for name in sorted(modules):
        module, owner = modules[name], product_of(name)
        reached = reach(modules, name)
        pure = _matches(name, ENGINE_PURE) or (owner is not None and _matches(name, PRODUCT_PURE, owner))
        if pure and "ext:aiohttp" in reached:
            found.append(f"{full(name)} loads aiohttp: {show(reached['ext:aiohttp'])}")
        if pure:
            for target in sorted(t for t in reached if not t.startswith(("ext:", "missing:"))):
                if _matches(target, HTTP) or any(_matches(target, PRODUCT_HANDLERS, p) for p in products(modules)):
                    found.append(f"{full(name)} reaches the HTTP layer: {show(reached[target])}")
        if owner is not None and _matches(name, (*PRODUCT_DOMAIN, *PRODUCT_SHARED, *helpers[owner]), owner):
            for target in sorted(t for t in {*reached, *module.typing} if _matches(t, PRODUCT_WIRE, owner)):
                if target in module.typing:
                    found.append(f"{full(name)} imports {full(target)}: the domain returns entities, views render "
                                 "them")
                else:
                    found.append(f"{full(name)} reaches {full(target)}: {show(reached[target])}")
            for target in internal(module.typing):
                if (product_of(target) == owner and target != owner and not _matches(target, PRODUCT_WIRE, owner)
                        and not _matches(target, (*PRODUCT_DOMAIN, *PRODUCT_SHARED, *helpers[owner]), owner)):
                    found.append(f"{full(name)} imports {full(target)}, which is no model module: wire shapes "
                                 f"belong in views*/pages*, a pure helper in the product's {HELPERS}")
        if name.startswith("engine"):
            for target in internal(module.typing):
                if target.startswith("products") or _matches(target, ("app", *TOOLS)):
                    found.append(f"{full(name)} imports {full(target)}: the engine knows no product, app or tool")
        if owner is not None:
            for target in internal(module.typing):
                other = product_of(target)
                if other is not None and other != owner:
                    found.append(f"{full(name)} imports {full(target)}: products never import each other")
                elif _matches(target, ("app", *TOOLS)):
                    found.append(f"{full(name)} imports {full(target)}: a product imports no app or tool")
            if _matches(name, PRODUCT_HANDLERS, owner) and name != f"{owner}.handlers":
                for target in internal(module.typing):
                    if _matches(target, PRODUCT_HANDLERS, owner) and target not in (name, f"{owner}.handlers"):
                        found.append(f"{full(name)} imports another handler module, {full(target)}")
    for name, fn in operations(modules):
        count = _statements(fn)
        if count > MAX_HANDLER_STATEMENTS:
            found.append(f"{full(name)}.{fn.name} is not thin: {count} statements "
                         f"(at most {MAX_HANDLER_STATEMENTS}); move the rules into the domain")
    if "pytest_plugin" in modules and "ext:aiohttp" in (plugin := reach(modules, "pytest_plugin", lazy=False)):
        found.append(f"{full('pytest_plugin')} loads aiohttp at import: {show(plugin['ext:aiohttp'])}")
    for cycle in import_cycles(modules):
        found.append(f"import cycle: {show(cycle)}")
    return found


def test_the_whole_tree_keeps_its_layers() -> None:
    assert check_tree(ROOT, "emulator") == []


def test_the_engine_model_names_no_http_module_even_for_typing() -> None:
    """What the engine model and the HTTP layer share (`Call`) lives in the model (`engine/call.py`), so
    `product` types its hooks without importing `routing`, and the two never form a cycle for the checker."""
    modules = load_tree(ROOT, "emulator")
    found = sorted(f"{name} -> {target}" for name, m in modules.items() if _matches(name, ENGINE_PURE)
                   for target in m.typing if _matches(target, HTTP))
    assert found == []


def test_every_engine_module_has_a_layer() -> None:
    """A new engine module is placed on the model side (never loads aiohttp) or in the HTTP layer, so no
    rule skips it."""
    engine = sorted(name for name in load_tree(ROOT, "emulator") if name.startswith("engine."))
    assert [name for name in engine if not (_matches(name, ENGINE_PURE) or _matches(name, HTTP))] == []
    assert [name for name in engine if _matches(name, ENGINE_PURE) and _matches(name, HTTP)] == []


def test_every_product_and_handler_module_is_checked() -> None:
    modules = load_tree(ROOT, "emulator")
    assert "products.monetize" in products(modules)
    for product in products(modules):  # each product's domain and views exist, so its rules bite
        assert any(_matches(name, PRODUCT_DOMAIN, product) for name in modules), product
    handlers = {name for name, _ in operations(modules)}
    assert "engine.control" in handlers
    assert len([n for n in handlers if n.startswith("products.monetize.handlers.")]) >= 10
    assert sum(1 for _ in operations(modules)) >= 40


# --- the checker itself, on synthetic trees ----------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    packages = ("", "engine/", "products/", "products/shop/", "products/shop/domain/", "products/shop/handlers/",
                "products/bank/", "products/bank/domain/", "testing/")
    for rel, text in {**{f"{p}__init__.py": "" for p in packages}, **files}.items():
        path = tmp_path / "fake" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


CLEAN = {
    "engine/world.py": "from .product import Product\nfrom . import clock\n",
    "engine/clock.py": "import time\n",
    "engine/product.py": "from typing import TYPE_CHECKING\nfrom .errors import Err\n"
                         "if TYPE_CHECKING:\n    from aiohttp import web\n    from .routing import Call\n",
    "engine/errors.py": "",
    "engine/routing.py": "from aiohttp import web\nfrom .product import Product\nfrom .world import World\n",
    "app.py": "from aiohttp import web\nfrom .engine import routing\nfrom .products.shop.product import SHOP\n"
              "from .products.bank.product import BANK\n",
    "cli.py": "def main():\n    from .app import create_app\n",
    "testing/harness.py": "from aiohttp import web\nfrom ..app import create_app\nfrom ..products.shop import state\n",
    "pytest_plugin.py": "import pytest\ndef fixture():\n    from .testing import harness\n",
    "products/shop/models.py": "from dataclasses import dataclass\n",
    "products/shop/state.py": "from .models import dataclass\nfrom ...engine.world import World\n",
    "products/shop/views.py": "from .domain.rules import is_ok\nfrom .models import dataclass\n"
                              "from ...engine.errors import Err\n",
    "products/shop/domain/rules.py": "from typing import TYPE_CHECKING\nfrom ..models import dataclass\n"
                                     "from ...shop import state\n"
                                     "if TYPE_CHECKING:\n    from aiohttp import web\n"
                                     "def is_ok() -> bool:\n    return True\n",
    "products/shop/product.py": "from aiohttp import web\nfrom ...engine.product import Product\n"
                                "from . import handlers\nfrom .handlers import a\n",
    "products/shop/handlers/a.py": "from aiohttp import web\nfrom ....engine.routing import operation\n"
                                   "from ..domain import rules\nfrom ..views import is_ok\n"
                                   "@operation('getA')\nasync def get_a(call):\n    return rules.is_ok()\n",
    "products/bank/product.py": "from ...engine.product import Product\nfrom .domain import ledger\n",
    "products/bank/domain/ledger.py": "from ..models import Row\n",
    "products/bank/models.py": "",
}


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    assert check_tree(_tree(tmp_path, CLEAN), "fake") == []


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"products/shop/util.py": "import aiohttp.web\n",
                  "products/shop/domain/rules.py": "from ..util import x\n"},
                 "fake.products.shop.domain.rules loads aiohttp: fake.products.shop.domain.rules -> "
                 "fake.products.shop.util -> aiohttp", id="transitive"),
    pytest.param({"products/bank/models.py": "from . import net\n",
                  "products/bank/net.py": "from aiohttp import web\n"},
                 "fake.products.bank.models loads aiohttp: fake.products.bank.models -> fake.products.bank.net -> "
                 "aiohttp", id="entities-of-any-product"),
    pytest.param({"products/shop/domain/rules.py": "def f():\n    import aiohttp\n"},
                 "fake.products.shop.domain.rules loads aiohttp: fake.products.shop.domain.rules -> aiohttp",
                 id="lazy-in-function"),
    pytest.param({"engine/world.py": "from . import faults\n", "engine/faults.py": "from aiohttp import web\n"},
                 "fake.engine.world loads aiohttp: fake.engine.world -> fake.engine.faults -> aiohttp",
                 id="engine-model"),
    pytest.param({"pytest_plugin.py": "import pytest\nfrom .testing import harness\n"},
                 "fake.pytest_plugin loads aiohttp at import: fake.pytest_plugin -> fake.testing", id="plugin"),
    pytest.param({"products/shop/domain/rules.py": "from fake.products.shop.domain import deep\n",
                  "products/shop/domain/deep.py": "from ....engine import routing\n"},
                 "fake.products.shop.domain.deep reaches the HTTP layer: fake.products.shop.domain.deep -> "
                 "fake.engine.routing", id="domain-routing"),
    pytest.param({"products/shop/domain/rules.py": "from ..handlers.a import get_a\n"},
                 "fake.products.shop.domain.rules reaches the HTTP layer: fake.products.shop.domain.rules -> "
                 "fake.products.shop.handlers", id="domain-handler"),
    pytest.param({"products/shop/views.py": "from .handlers import b\n", "products/shop/handlers/b.py": ""},
                 "fake.products.shop.views reaches the HTTP layer: fake.products.shop.views -> "
                 "fake.products.shop.handlers", id="views-handler"),
    pytest.param({"products/shop/domain/rules.py": "from ..views import render_everything\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.views", id="domain-views"),
    pytest.param({"products/shop/domain/rules.py": "from .. import views\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.views", id="domain-views-module"),
    pytest.param({"products/shop/state.py": "from typing import TYPE_CHECKING\n"
                  "if TYPE_CHECKING:\n    from .views import x\n"},
                 "fake.products.shop.state imports fake.products.shop.views", id="domain-views-typing"),
    pytest.param({"products/bank/domain/ledger.py": "from ..outbox import send\n",
                  "products/bank/outbox.py": "from .views import render\n", "products/bank/views.py": ""},
                 "fake.products.bank.domain.ledger reaches fake.products.bank.views: fake.products.bank.domain.ledger"
                 " -> fake.products.bank.outbox -> fake.products.bank.views", id="domain-views-transitive"),
    pytest.param({"products/shop/stripe_objects.py": "import json\nfrom .models import dataclass\n"
                  "def event(obj):\n    return json.dumps({'object': 'event', 'data': obj})\n",
                  "products/shop/domain/rules.py": "from .. import stripe_objects\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.stripe_objects, which is no model "
                 "module", id="domain-wire-shapes-under-another-name"),
    pytest.param({"products/shop/stripe_objects.py": "",
                  "products/shop/domain/rules.py": "def f():\n    from ..stripe_objects import event\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.stripe_objects, which is no model "
                 "module", id="domain-wire-shapes-under-another-name-lazy"),
    pytest.param({"products/shop/delivery.py": "", "products/shop/domain/rules.py": "from .. import delivery\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.delivery, which is no model module",
                 id="domain-other-product-module"),
    pytest.param({"products/shop/views_stripe.py": "",
                  "products/shop/domain/rules.py": "from ..views_stripe import x\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.views_stripe: the domain returns "
                 "entities", id="domain-views-prefixed"),
    pytest.param({"products/shop/pages_auth.py": "", "products/shop/domain/rules.py": "from .. import pages_auth\n"},
                 "fake.products.shop.domain.rules imports fake.products.shop.pages_auth", id="domain-pages"),
    pytest.param({"products/shop/models_auth.py": "from .views import x\n"},
                 "fake.products.shop.models_auth imports fake.products.shop.views", id="model-module-views"),
    pytest.param({"products/shop/world.py": "from .views import x\n"},
                 "fake.products.shop.world imports fake.products.shop.views", id="world-section-views"),
    pytest.param({"products/shop/errors.py": "from .pages import x\n", "products/shop/pages.py": ""},
                 "fake.products.shop.errors imports fake.products.shop.pages", id="errors-pages"),
    pytest.param({"products/shop/__init__.py": "DOMAIN_HELPERS = ('signing',)\n",
                  "products/shop/signing.py": "from .views_stripe import x\n", "products/shop/views_stripe.py": "",
                  "products/shop/domain/rules.py": "from ..signing import sign\n"},
                 "fake.products.shop.domain.rules reaches fake.products.shop.views_stripe: fake.products.shop.domain"
                 ".rules -> fake.products.shop.signing -> fake.products.shop.views_stripe", id="helper-reaches-views"),
    pytest.param({"products/shop/__init__.py": "DOMAIN_HELPERS = ('signing',)\n",
                  "products/shop/signing.py": "from . import stripe_objects\n", "products/shop/stripe_objects.py": ""},
                 "fake.products.shop.signing imports fake.products.shop.stripe_objects, which is no model module",
                 id="helper-imports-other-module"),
    pytest.param({"products/shop/__init__.py": "DOMAIN_HELPERS = ('views_stripe',)\n",
                  "products/shop/views_stripe.py": ""},
                 "fake.products.shop: DOMAIN_HELPERS lists views_stripe, a wire-shape module", id="helper-is-wire"),
    pytest.param({"products/shop/__init__.py": "DOMAIN_HELPERS = ('signing',)\n"},
                 "fake.products.shop: DOMAIN_HELPERS lists signing, which does not exist", id="helper-missing"),
    pytest.param({"products/shop/__init__.py": "DOMAIN_HELPERS = ('sign' + 'ing',)\n"},
                 "fake.products.shop: DOMAIN_HELPERS is not a tuple of module names", id="helpers-not-names"),
    pytest.param({"engine/world.py": "from ..products.shop import state\n"},
                 "fake.engine.world imports fake.products.shop.state: the engine knows no product",
                 id="engine-product"),
    pytest.param({"engine/routing.py": "def f():\n    from ..testing import harness\n"},
                 "fake.engine.routing imports fake.testing.harness: the engine knows no product, app or tool",
                 id="engine-tool"),
    pytest.param({"products/bank/domain/ledger.py": "from ...shop.models import dataclass\n"},
                 "fake.products.bank.domain.ledger imports fake.products.shop.models: products never import each other",
                 id="product-product"),
    pytest.param({"products/bank/product.py": "def f():\n    from paywall_emulator.products.shop import views\n"},
                 "fake.products.bank.product imports fake.products.shop.views: products never import each other",
                 id="product-product-absolute"),
    pytest.param({"products/shop/views.py": "from .domain.rules import is_ok\n",
                  "products/shop/domain/rules.py": "from ..pages import page\n",
                  "products/shop/pages.py": "from .views import is_ok\n"},
                 "import cycle: fake.products.shop.domain.rules -> fake.products.shop.pages -> fake.products.shop.views"
                 " -> fake.products.shop.domain.rules", id="cycle"),
    pytest.param({"engine/world.py": "from .clock import x\n", "engine/clock.py": "from . import world\n"},
                 "import cycle: fake.engine.clock -> fake.engine.world -> fake.engine.clock", id="cycle-engine"),
    pytest.param({"products/shop/handlers/a.py": "from . import b\n", "products/shop/handlers/b.py": ""},
                 "fake.products.shop.handlers.a imports another handler module, fake.products.shop.handlers.b",
                 id="handler-handler"),
    pytest.param({"products/shop/handlers/a.py": "@operation('getA')\nasync def get_a(call):\n"
                  + "".join(f"    x{i} = {i}\n" for i in range(MAX_HANDLER_STATEMENTS + 1))},
                 f"fake.products.shop.handlers.a.get_a is not thin: {MAX_HANDLER_STATEMENTS + 1} statements",
                 id="fat-handler"),
    pytest.param({"engine/control.py": "@operation('getA')\ndef get_a(call):\n"
                  + "".join(f"    x{i} = {i}\n" for i in range(MAX_HANDLER_STATEMENTS + 1))},
                 f"fake.engine.control.get_a is not thin: {MAX_HANDLER_STATEMENTS + 1} statements",
                 id="fat-engine-handler"),
])
def test_checker_catches(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = check_tree(_tree(tmp_path, {**CLEAN, **files}), "fake")
    assert any(f.startswith(expected) for f in found), found


def test_listed_helpers_and_the_errors_serve_the_domain(tmp_path: Path) -> None:
    """The model side may use its refusals and the helpers its product lists; other layers may use any
    wire-shape module, a `views_*` one included."""
    files = {"products/shop/__init__.py": "DOMAIN_HELPERS = ('signing',)\n",
             "products/shop/signing.py": "import hmac\n",
             "products/shop/errors.py": "from ...engine.errors import Err\n",
             "products/shop/domain/rules.py": "from ..signing import sign\nfrom ..errors import Refusal\n"
                                              "from ..models_auth import Account\n",
             "products/shop/models_auth.py": "from .models import dataclass\n",
             "products/shop/views_stripe.py": "from .domain.rules import is_ok\nfrom .models import dataclass\n",
             "products/shop/views.py": "from .views_stripe import render\n",
             "products/shop/delivery.py": "from aiohttp import web\nfrom .views_stripe import render\n"}
    assert check_tree(_tree(tmp_path, {**CLEAN, **files}), "fake") == []


def test_a_product_added_later_gets_the_rules(tmp_path: Path) -> None:
    """No list of products anywhere: a new folder under products/ is checked like the others."""
    files = {"products/fresh/__init__.py": "", "products/fresh/domain/__init__.py": "",
             "products/fresh/domain/rules.py": "from ..views import render\nimport aiohttp\n",
             "products/fresh/views.py": ""}
    found = check_tree(_tree(tmp_path, {**CLEAN, **files}), "fake")
    assert [f.split(":")[0] for f in found] == ["fake.products.fresh.domain.rules loads aiohttp",
                                                "fake.products.fresh.domain.rules imports fake.products.fresh.views"]
