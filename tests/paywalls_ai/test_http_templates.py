"""The paywall-required messages come from the world file's per-event templates, filled with the link and
the paywall's name, word for word: in a chat reply (JSON and stream), in `charge`, for both events."""

from __future__ import annotations

from typing import Any

from .http_support import MODEL, Pw, openai_client

HI = [{"role": "user", "content": "hi"}]
FUNDS = "{{name}} is out of credit; pay at {{ url }} ({{other}} stays as it is)."
AUTH = "Let {{ name }} bill you: {{url}}"


def world() -> dict[str, Any]:
    model = [{"id": MODEL, "pricing": {"prompt": "1", "completion": "1", "request": "0.01"}}]
    return {"paywalls-ai": {"paywalls": [
        {"id": "pw_t", "name": "Tmpl & Co", "owner": "usr_t", "keys": ["sk-paywalls-v1-tmpl"], "models": model,
         "templates": {"insufficient_funds": FUNDS}, "balances": {"short": "0.009"}},
        {"id": "pw_ts", "name": "Shared Tmpl", "mode": "shared", "owner": "usr_t", "keys": ["sk-paywalls-v1-tmpl-s"],
         "models": model, "templates": {"authorization_required": AUTH}}]}}


def test_templates_are_filled_word_for_word(emu: Any) -> None:
    emu.control.load_world(world())
    base = emu.base_url
    pages = f"{base}/_emulator/paywalls-ai"
    funds = openai_client(base, "sk-paywalls-v1-tmpl")
    reply = funds.chat.completions.create(model=MODEL, messages=HI, user="short")  # type: ignore[arg-type]
    assert reply.choices[0].message.content == (
        f"Tmpl & Co is out of credit; pay at {pages}/topup/cs_test_000001 ({{{{other}}}} stays as it is).")
    streamed = funds.chat.completions.create(model=MODEL, messages=HI, user="short", stream=True)  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == (
        f"Tmpl & Co is out of credit; pay at {pages}/topup/cs_test_000002 ({{{{other}}}} stays as it is).")
    charged = Pw(base, "sk-paywalls-v1-tmpl").post("/v1/user/charge", json={"user": "short", "amount": "0.01"})
    assert charged.json() == {"success": False, "message": (
        f"Tmpl & Co is out of credit; pay at {pages}/topup/cs_test_000003 ({{{{other}}}} stays as it is).")}
    assert Pw(base, "sk-paywalls-v1-tmpl").balance("short") == 9 * 10**15
    shared = openai_client(base, "sk-paywalls-v1-tmpl-s")
    refused = shared.chat.completions.create(model=MODEL, messages=HI, user="newbie")  # type: ignore[arg-type]
    assert refused.choices[0].message.content == f"Let Shared Tmpl bill you: {pages}/authorize/auth_000001"
