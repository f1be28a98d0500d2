"""Which of a paywall's locales a caller gets: the best match of its `Accept-Language` (q-values, then
the order given) among the locales the paywall has overrides for, else the paywall's `locale_default`.
No aiohttp.
"""

from __future__ import annotations

from ..models import Paywall

DEFAULT_LOCALE = "en"  # a paywall that names no `locale_default` speaks English


def default_locale(paywall: Paywall) -> str:
    return str(paywall.settings.get("locale_default") or DEFAULT_LOCALE)


def parse_accept_language(header: str | None) -> list[str]:
    """The language ranges of an `Accept-Language` header, best first: q-value descending, the
    header's own order among equals; `q=0` and malformed entries are dropped."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if tag and 0 < quality <= 1 and all(c.isalnum() or c in "-*" for c in tag):
            ranked.append((-quality, index, tag.lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(paywall: Paywall, accept_language: str | None) -> str:
    """The caller's locale on this paywall (RFC 4647 lookup): for each range, best first, a locale
    spelled the same, else one the range narrows down to (`de-CH` → `de`), else one in the range
    (`de` → `de-AT`); `*` or no match at all → the paywall's `locale_default`."""
    default = default_locale(paywall)
    if not paywall.locales or not accept_language:
        return default
    available = {tag.lower(): tag for tag in [default, *(paywall.locales or {})]}
    for wanted in parse_accept_language(accept_language):
        if wanted == "*":
            return default
        parts = wanted.split("-")
        for size in range(len(parts), 0, -1):
            found = available.get("-".join(parts[:size]))
            if found is not None:
                return found
        for lower, tag in sorted(available.items()):
            if lower.startswith(f"{wanted}-"):
                return tag
    return default
