"""Money rules: decimal USDC strings to base units and back, exactly; the usage price rounded up once."""

from __future__ import annotations

from fractions import Fraction

import pytest

from paywall_emulator.products.paywalls_ai.money import (
    UNIT,
    AmountError,
    format_price,
    format_units,
    parse_amount,
    parse_percent,
    usage_cost,
)


@pytest.mark.parametrize(("text", "units"), [
    ("10", 10 * UNIT), ("0.25", UNIT // 4), ("0.000000000000000001", 1), ("1.5", 3 * UNIT // 2), ("0", 0),
    ("000123.100", 123 * UNIT + UNIT // 10),
])
def test_parse_amount_is_exact(text: str, units: int) -> None:
    assert parse_amount(text) == units


@pytest.mark.parametrize("text", ["", "-1", "+1", "1e3", " 1", "1.", ".5", "0.0000000000000000001", "1,5", "NaN"])
def test_parse_amount_refuses(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)


def test_format_units() -> None:
    assert format_units(0) == "0.00"
    assert format_units(UNIT) == "1.00"
    assert format_units(3 * UNIT // 2) == "1.50"
    assert format_units(1) == "0.000000000000000001"
    assert format_units(123 * UNIT + 45 * UNIT // 1000) == "123.045"
    assert format_price(UNIT // 2) == "0.5"
    assert format_price(UNIT) == "1"
    assert format_price(0) == "0"


def test_usage_cost_prices_per_million_plus_request_and_markup_rounded_up() -> None:
    # 10 prompt tokens at 0.5/M and 20 completion tokens at 1/M, plus 0.001 per request, +20 %.
    prompt, completion, request = parse_amount("0.5"), parse_amount("1"), parse_amount("0.001")
    cost = usage_cost(prompt_tokens=10, completion_tokens=20, prompt_price=prompt, completion_price=completion,
                      request_price=request, markup=(1, 5))
    exact = (Fraction(10 * prompt + 20 * completion, 1_000_000) + request) * Fraction(6, 5)
    assert cost == exact == parse_amount("0.0012300")
    # A fraction of a base unit is rounded up, never down.
    assert usage_cost(prompt_tokens=1, completion_tokens=0, prompt_price=1, completion_price=0, request_price=0,
                      markup=(0, 1)) == 1
    assert usage_cost(prompt_tokens=0, completion_tokens=0, prompt_price=5, completion_price=5, request_price=0,
                      markup=(1, 2)) == 0


def test_parse_percent() -> None:
    assert parse_percent("12.5") == Fraction(1, 8)
    with pytest.raises(AmountError):
        parse_percent("-5")
