"""Money of the Paywalls.ai product: exact integers of base units (10^-18 USDC, the "wei" of the wire).

Owns parsing decimal USDC strings, formatting base units for display, and the usage price rule
(tokens at a price per million, a per-request fee, a markup, rounded up once). Pure; no aiohttp.
"""

from __future__ import annotations

import re
from fractions import Fraction

DECIMALS = 18
UNIT = 1_000_000_000_000_000_000  # 10^DECIMALS
TOKENS_PER_PRICE = 1_000_000
_AMOUNT = re.compile(r"^([0-9]{1,30})(?:\.([0-9]{1,18}))?$")
_PERCENT = re.compile(r"^[0-9]{1,6}(?:\.[0-9]{1,6})?$")


class AmountError(ValueError):
    """A string that is not a decimal USDC amount with at most 18 decimals."""


def parse_amount(text: str) -> int:
    """`"10"` → 10·10^18, `"0.000000000000000001"` → 1; refuses signs, exponents, spaces, >18 decimals."""
    match = _AMOUNT.match(text)
    if match is None:
        raise AmountError(f"{text!r} is not a decimal USDC amount with at most {DECIMALS} decimals")
    whole, fraction = match.group(1), match.group(2) or ""
    return int(whole) * UNIT + int(fraction.ljust(DECIMALS, "0"))


def format_units(units: int, *, min_decimals: int = 2) -> str:
    """Base units as decimal USDC: at least `min_decimals` decimals, trailing zeros beyond them dropped."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), UNIT)
    digits = str(fraction).rjust(DECIMALS, "0").rstrip("0").ljust(min_decimals, "0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def format_price(units: int) -> str:
    """A price for `/models`: decimal USDC with no forced decimals (`"0.5"`, `"1"`)."""
    return format_units(units, min_decimals=0)


def parse_percent(text: str) -> Fraction:
    """A markup percentage such as `"20"` or `"12.5"` as an exact fraction (0.2, 0.125)."""
    if not _PERCENT.match(text):
        raise AmountError(f"{text!r} is not a percentage like 20 or 12.5")
    return Fraction(text) / 100


def usage_cost(*, prompt_tokens: int, completion_tokens: int, prompt_price: int, completion_price: int,
               request_price: int, markup: tuple[int, int]) -> int:
    """Base units owed for one call: prices are base units per million tokens (per call for `request`);
    the exact sum times (1 + markup) is rounded up once, so a charge is never below the price list."""
    # Integers only (this runs on every proxied answer): (tokens·price + request·10^6)·(b + a) / (10^6·b)
    # for a markup of a/b, rounded up.
    scaled = prompt_tokens * prompt_price + completion_tokens * completion_price + request_price * TOKENS_PER_PRICE
    top, bottom = markup
    return -(-(scaled * (bottom + top)) // (TOKENS_PER_PRICE * bottom))
