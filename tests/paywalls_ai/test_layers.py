"""The Paywalls.ai package keeps the layer rules of ARCHITECTURE.md (the same AST checker as monetize)."""

from __future__ import annotations

from ..test_layers import PRODUCTS, check_layers


def test_the_paywalls_ai_product_keeps_its_layers() -> None:
    assert check_layers(PRODUCTS, "paywalls_ai") == []
