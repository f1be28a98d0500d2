"""Where the product's hosted pages live, and the paywall-required message templates filled in.

`Links` is a value built from the origin clients reach the emulator at; the domain asks it for the
URL of a top-up session or an authorization request. Pure.
"""

from __future__ import annotations

from ...engine.structs import struct

PAGES = "/_emulator/paywalls-ai"


@struct(frozen=True)
class Links:
    origin: str

    def topup(self, session_id: str) -> str:
        return f"{self.origin}{PAGES}/topup/{session_id}"

    def authorize(self, request_id: str) -> str:
        return f"{self.origin}{PAGES}/authorize/{request_id}"


def fill(template: str, *, url: str, name: str) -> str:
    """`{{url}}` and `{{name}}` (spaces inside the braces allowed) replaced; nothing else touched."""
    text = template
    for key, value in (("url", url), ("name", name)):
        for spelling in (f"{{{{{key}}}}}", f"{{{{ {key} }}}}"):
            text = text.replace(spelling, value)
    return text
