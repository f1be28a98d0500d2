"""PayKit keeps the layer rules of ARCHITECTURE.md (checked by the same AST checker as monetize): pure
modules never load aiohttp, the domain never reaches handlers or views, handlers stay thin and never
import each other; and the product never imports another product."""

from __future__ import annotations

import ast

from ..test_layers import PRODUCTS, _is_operation, check_layers, load_package


def test_the_paykit_product_keeps_its_layers() -> None:
    assert check_layers(PRODUCTS, "paykit") == []


def test_every_paykit_handler_module_is_checked() -> None:
    modules = load_package(PRODUCTS, "paykit")
    handlers = [m for m in modules if m.startswith("handlers.")]
    operations = [n for m in handlers for n in ast.walk(modules[m].tree)
                  if isinstance(n, ast.AsyncFunctionDef) and _is_operation(n)]
    assert len(handlers) == 7 and len(operations) == 20  # 12 public operations, 8 control ones


def test_paykit_imports_no_other_product() -> None:
    modules = load_package(PRODUCTS, "paykit")
    found = sorted(f"{name} -> {target}" for name, m in modules.items() for target in m.anywhere
                   if "monetize" in target)
    assert found == []
    assert [p.name for p in (PRODUCTS / "paykit").rglob("*.py") if "products.monetize" in p.read_text()] == []
