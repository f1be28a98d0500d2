"""PayKit is held to the layer rules of ARCHITECTURE.md by the whole-tree checker (tests/test_layers.py);
this makes sure the checker actually sees it: its domain, views and every handler, thin, and no import of
another product."""

from __future__ import annotations

from ..test_layers import (
    PRODUCT_DOMAIN,
    PRODUCT_WIRE,
    ROOT,
    _matches,
    check_tree,
    domain_helpers,
    load_tree,
    operations,
    products,
)


def test_paykit_is_checked_and_clean() -> None:
    modules = load_tree(ROOT, "emulator")
    assert "products.paykit" in products(modules)
    assert any(_matches(name, PRODUCT_DOMAIN, "products.paykit") for name in modules)
    handlers = [(name, fn.name) for name, fn in operations(modules) if name.startswith("products.paykit.")]
    assert len({name for name, _ in handlers}) == 7 and len(handlers) == 20  # 12 public, 8 control operations
    assert [p for p in check_tree(ROOT, "emulator") if "paykit" in p] == []


def test_paykit_renders_stripe_objects_in_a_views_module() -> None:
    """The Stripe objects are wire shapes: rendered by `views_stripe` (a views module the rules cover), never
    imported by the domain, whose only helper outside domain/ is `signing`."""
    modules = load_tree(ROOT, "emulator")
    assert domain_helpers(modules, "products.paykit") == (("signing",), [])
    assert _matches("products.paykit.views_stripe", PRODUCT_WIRE, "products.paykit")
    importers = sorted(name for name, m in modules.items() if "products.paykit.views_stripe" in m.typing)
    assert importers == ["products.paykit.delivery", "products.paykit.views"]
    assert not any(name.startswith("products.paykit.stripe_objects") for name in modules)


def test_paykit_imports_no_other_product() -> None:
    modules = load_tree(ROOT, "emulator")
    found = sorted(f"{name} -> {target}" for name, m in modules.items() if name.startswith("products.paykit")
                   for target in m.anywhere
                   if target.startswith("products.") and not target.startswith("products.paykit"))
    assert found == []
