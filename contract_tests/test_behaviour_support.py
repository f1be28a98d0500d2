"""Support tickets: subject 3-200 and content 1-5000 characters after trimming (the bounds themselves
pass), a guest must give an email, and a third ticket within 24 h is 429 `rate_limit_exceeded` (with the
emulator clock, the limit lifts a day later).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from paywall_emulator.contract_tests.client import Api, Control, expect_error, expect_ok
from paywall_emulator.contract_tests.settings import Settings

pytestmark = pytest.mark.writes


def _ticket(paywall_id: str) -> str:
    return f"/api/v1/paywall/{paywall_id}/support/ticket"


@pytest.mark.parametrize(("subject", "content", "code"), [
    ("ab", "body", "subject_length"),
    ("   ab   ", "body", "subject_length"),
    ("x" * 201, "body", "subject_length"),
    ("Fine subject", "", "content_length"),
    ("Fine subject", "y" * 5001, "content_length"),
], ids=["subject-2", "subject-2-after-trim", "subject-201", "content-0", "content-5001"])
def test_out_of_bounds_tickets_are_refused(api: Api, settings: Settings, new_email: Callable[[str], str],
                                           subject: str, content: str, code: str) -> None:
    body = {"subject": subject, "content": content, "customer_email": new_email("bounds")}
    expect_error(api.post(_ticket(settings.paywall_id), key=None, json=body), 400, code)


@pytest.mark.parametrize(("subject_size", "content_size"), [(3, 1), (200, 5000)], ids=["minimum", "maximum"])
def test_tickets_at_the_bounds_are_accepted(api: Api, settings: Settings, new_email: Callable[[str], str],
                                            subject_size: int, content_size: int) -> None:
    subject = "abc" if subject_size < 20 else f"conform {settings.run_id} ".ljust(subject_size, "x")
    body = {"subject": subject, "content": "y" * content_size, "customer_email": new_email("ticket")}
    ticket = expect_ok(api.post(_ticket(settings.paywall_id), key=None, json=body))["ticket"]
    assert isinstance(ticket["id"], int) and ticket["status"], ticket


def test_a_guest_without_email_is_email_required(api: Api, settings: Settings) -> None:
    resp = api.post(_ticket(settings.paywall_id), key=None, json={"subject": "Need help", "content": "conform"})
    expect_error(resp, 400, "email_required")


def _open_until_limited(api: Api, paywall_id: str, email: str, run_id: str) -> None:
    for n in (1, 2):
        body = {"subject": f"conform {run_id} #{n}", "content": "rate limit", "customer_email": email}
        expect_ok(api.post(_ticket(paywall_id), key=None, json=body))
    third = api.post(_ticket(paywall_id), key=None,
                     json={"subject": f"conform {run_id} #3", "content": "rate limit", "customer_email": email})
    expect_error(third, 429, "rate_limit_exceeded")


def test_a_third_ticket_within_24_hours_is_rate_limited(
        api: Api, settings: Settings, new_email: Callable[[str], str]) -> None:
    _open_until_limited(api, settings.paywall_id, new_email("limit"), settings.run_id)


@pytest.mark.emulator_only("time travel: POST /_emulator/clock/advance")
def test_the_rate_limit_lifts_after_24_hours(
        api: Api, control: Control, settings: Settings, new_email: Callable[[str], str]) -> None:
    email = new_email("lift")
    _open_until_limited(api, settings.paywall_id, email, settings.run_id)
    control.advance(days=1, seconds=60)
    expect_ok(api.post(_ticket(settings.paywall_id), key=None,
                       json={"subject": f"conform {settings.run_id} #4", "content": "later", "customer_email": email}))
