"""The public spec says which parts are documented and which are the emulator's choice: `ErrorCode`
splits every machine code into those the REST reference or the headless guides print and the emulator's
own (the SDK's codes those pages do not print included), every description naming one of the latter marks
it *(emulator code)* (and never a documented one), and the rules the docs leave open (webhook retry
schedule, the daily top-up's timing, locale matching, broken upstreams) say "the emulator's choice"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from paywall_emulator.engine.openapi import load_document, spec_path

SPEC = load_document(spec_path("monetize.openapi.yaml"))
MARK = " *(emulator code)*"
# The codes the REST reference (002) or the headless guides (000, 001) print, checked against their text
# (`unauthorized` as the word "Unauthorized" in 002's code column). Every other code is the emulator's
# choice and is marked, even where the official SDK or another docs page names it.
PRINTED = frozenset({
    "identity_required", "email_required", "invalid_op", "invalid_amount", "type_required", "insufficient",
    "invalid_payload", "subject_length", "content_length", "too_many_files", "invalid_file", "unauthorized",
    "invalid_token", "forbidden", "identity_not_found", "identity_not_on_paywall", "already_purchased",
    "rate_limit_exceeded",
})
# Of the emulator's codes, those it took from the official SDK or another docs page.
FROM_OTHER_SOURCES = frozenset({
    "authorization_required", "not_found", "provider-disabled", "invalid_credentials", "email_not_confirmed",
    "email_exists", "weak_password", "over_email_send_rate_limit", "invalid_otp", "otp_expired",
    "token_expired", "invalid_refresh_token", "anonymous_disabled", "not-enough-queries",
})
# What no document at all names as a code.
NAMED_BY_THE_EMULATOR = frozenset({
    "invalid_request", "missing_parameters", "invalid_url", "invalid_email",
    "insufficient_tokens", "token_type_not_found", "already_cancelled", "file_too_large",
    "cancellation_reason_required", "subscription_id_required", "paywall_id_required", "user_id_required",
    "tokens_required", "invalid_json", "unsupported_media_type", "invalid_api_key", "price_not_found",
    "subscription_not_found", "no_balance", "method_not_allowed", "idempotency_key_reused", "conflict",
    "payload_too_large", "too_many_events", "not_implemented", "internal_error", "response_validation_failed",
    "upstream_error", "fault_injected", "not_anonymous",
    "flow_state_not_found", "flow_state_expired", "bad_code_verifier",
})
EMULATOR_CODES = FROM_OTHER_SOURCES | NAMED_BY_THE_EMULATOR
ERROR_CODE = SPEC["components"]["schemas"]["ErrorCode"]


def descriptions(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            else:
                yield from descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from descriptions(value, f"{where}/{index}")


def group(text: str, heading: str) -> set[str]:
    """The back-quoted words of the paragraph that starts with `heading`."""
    part = text.split(heading, 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`([^`]+)`", part))


def test_error_code_splits_every_code_into_documented_and_the_emulators_own() -> None:
    enum = set(ERROR_CODE["enum"])
    text = ERROR_CODE["description"]
    documented, own = group(text, "Documented codes"), group(text, "The emulator's own codes")
    assert documented | own == enum and not documented & own
    assert documented == PRINTED and own == EMULATOR_CODES
    assert not FROM_OTHER_SOURCES & NAMED_BY_THE_EMULATOR
    others = text.split("* from the official SDK", 1)[1].split("* named by the emulator", 1)[0]
    assert set(re.findall(r"`([^`]+)`", others)) == FROM_OTHER_SOURCES


def test_every_mention_of_an_emulator_code_is_marked_and_no_documented_one_is() -> None:
    unmarked, wrongly = [], []
    for where, text in descriptions(SPEC):
        if where == "/components/schemas/ErrorCode":
            continue
        for match in re.finditer(r"`([a-z_.-]+)`", text):
            code, marked = match.group(1), text[match.end():].startswith(MARK)
            if code in EMULATOR_CODES and not marked:
                unmarked.append(f"{where}: {code}")
            if code in set(ERROR_CODE["enum"]) - EMULATOR_CODES and marked:
                wrongly.append(f"{where}: {code}")
    assert unmarked == [] and wrongly == []
    assert sum(text.count(MARK) for _, text in descriptions(SPEC)) > 50


def paragraph_with(text: str, needle: str) -> str:
    return " ".join(next(p for p in text.split("\n\n") if needle in p).split())


def test_undocumented_rules_say_they_are_the_emulators_choice() -> None:
    paths, webhooks = SPEC["paths"], SPEC["webhooks"]
    retry = paragraph_with(webhooks["payment.completed"]["post"]["description"], "6 attempts")
    assert "emulator's choice" in retry and "+6 h" in retry
    top_up = paragraph_with(paths["/api/v1/paywall/{id}/balances"]["get"]["description"], "Daily-trial top-up")
    assert "emulator's choice" in top_up and "local midnight" in top_up and "lazily" in top_up
    locale = paragraph_with(paths["/api/v1/paywall/{id}/bootstrap"]["get"]["description"], "Accept-Language")
    assert "emulator's choice" in locale
    assert "emulator's choice" in SPEC["info"]["description"]
    gateway = paths["/api/v1/api-gateway/{providerId}"]["post"]["description"]
    broken = paragraph_with(gateway, "**Broken upstreams**")
    assert "emulator's choice" in broken and "The charge stands" in gateway


def test_every_description_that_leans_on_an_undocumented_rule_says_it_is_the_emulators_choice() -> None:
    """Not only where each rule is described: wherever a description relies on the top-up's timing or on
    the webhook sender's schedule or order, it says (or points to where) the emulator chose it."""
    leaning: dict[str, list[str]] = {"top-up": [], "attempts": [], "in the order they happened": []}
    for where, text in descriptions(SPEC):
        for needle, found in leaning.items():
            if needle in text:
                found.append(where)
                assert "emulator's choice" in text, f"{where} mentions {needle!r} without the mark"
    assert len(leaning["top-up"]) >= 5 and leaning["attempts"] and leaning["in the order they happened"]
    hook = " ".join(SPEC["webhooks"]["refund.created"]["post"]["description"].split())
    assert "This order is the emulator's choice" in hook and "redirects are not followed (the emulator's" in hook


@pytest.mark.parametrize(("where", "needle"), [
    ("/paths/~1api~1v1~1paywall~1{id}~1auth~1email~1signup/post", "at most once a minute"),
    ("/paths/~1api~1v1~1paywall~1{id}~1auth~1otp~1verify/post", "once, for 1 h"),
    ("/paths/~1api~1v1~1paywall~1{id}~1auth~1oauth~1exchange/post", "older than 5 minutes"),
    ("/paths/~1api~1v1~1paywall~1{id}~1auth~1password~1request-reset/post", "(valid 1 h, once"),
    ("/components/securitySchemes/BearerAuth", "living 1 h"),
    ("/components/schemas/TokenSet", "1 h on the emulator clock"),
    ("/components/schemas/StartCheckoutRequest/properties/trial_days", "At most 730 days"),
])
def test_the_emulators_own_limits_and_lifetimes_say_so(where: str, needle: str) -> None:
    node: Any = SPEC
    for part in where.strip("/").split("/"):
        node = node[part.replace("~1", "/")]
    paragraphs = [" ".join(p.split()) for p in node["description"].split("\n\n")]
    (paragraph,) = [p for p in paragraphs if needle in p]
    assert "emulator's choice" in paragraph
