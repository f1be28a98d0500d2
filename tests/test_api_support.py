"""POST support/ticket: JSON and multipart transports, field bounds, the guest e-mail rule, the
Bearer's e-mail winning, file limits, and the 2-per-24-h rate limit on the emulator clock."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from paywall_emulator.testing import ControlClient

from .conftest import ALICE, STRIPE_PW, Api, error_of

PATH = f"/api/v1/paywall/{STRIPE_PW}/support/ticket"
MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def ticket(api: Api, body: Any, **kwargs: Any) -> requests.Response:
    return api.post(PATH, json=body, **kwargs)


def guest(**overrides: Any) -> dict[str, Any]:
    return {"subject": "Refund request", "content": "Please refund my last payment.",
            "customer_email": "guest@example.com", **overrides}


def upload(api: Api, files: list[tuple[str, bytes, str]], *, fields: dict[str, str] | None = None,
           **kwargs: Any) -> requests.Response:
    data = fields if fields is not None else {"subject": "Screenshot", "content": "See attached.",
                                              "customer_email": "guest@example.com"}
    # Every part goes through `files=` so the body is multipart even without a file.
    parts: list[tuple[str, tuple[str | None, bytes | str, str | None]]] = [
        (name, (None, value, None)) for name, value in data.items()]
    parts += [("files", (name, content, ctype)) for name, content, ctype in files]
    return api.post(PATH, files=parts, **kwargs)


def tickets(control: ControlClient) -> list[dict[str, Any]]:
    return list(control.state()["monetize"]["tickets"])


def test_guest_json_ticket(api: Api, control: ControlClient) -> None:
    resp = ticket(api, guest(subject="  Refund request  "))
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body == {"ticket": {"id": body["ticket"]["id"], "status": "open"}}
    assert isinstance(body["ticket"]["id"], int)
    [row] = tickets(control)
    assert row["id"] == body["ticket"]["id"] and row["email"] == "guest@example.com"
    assert row["subject"] == "Refund request" and row["paywall_id"] == STRIPE_PW and row["user_id"] is None


def test_bearer_email_wins_over_customer_email(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    resp = ticket(api, guest(customer_email="someone.else@example.com"), bearer=token)
    assert resp.status_code == 200
    [row] = tickets(control)
    assert row["email"] == "alice@example.com" and row["user_id"] == ALICE
    # With a Bearer no customer_email is needed at all.
    assert ticket(api, {"subject": "Hi there", "content": "x"}, bearer=token).status_code == 200


@pytest.mark.parametrize(("overrides", "code"), [
    ({"subject": "ab"}, "subject_length"),
    ({"subject": "  ab  "}, "subject_length"),  # long enough for the schema, two characters once trimmed
    ({"subject": "x" * 201}, "subject_length"),
    ({"content": ""}, "content_length"),
    ({"content": "   "}, "content_length"),
    ({"content": "x" * 5001}, "content_length"),
    ({"subject": None}, "invalid_payload"),
    ({"content": 5}, "invalid_payload"),
    ({"customer_email": None}, "email_required"),
    ({"customer_email": ""}, "email_required"),
    ({"customer_email": "not-an-email"}, "invalid_email"),
])
def test_json_refusals_create_nothing(api: Api, control: ControlClient, overrides: dict[str, Any],
                                      code: str) -> None:
    before = control.state()
    assert error_of(ticket(api, guest(**overrides))) == (400, code)
    assert control.state() == before


def test_missing_fields_are_invalid_payload(api: Api) -> None:
    body = guest()
    del body["subject"]
    assert error_of(ticket(api, body)) == (400, "invalid_payload")
    body = guest()
    del body["customer_email"]
    assert error_of(ticket(api, body)) == (400, "email_required")


def test_bounds_are_inclusive(api: Api) -> None:
    assert ticket(api, guest(subject="abc", content="x")).status_code == 200
    assert ticket(api, guest(subject="s" * 200, content="c" * 5000, customer_email="other@example.com")
                  ).status_code == 200


def test_multipart_with_images(api: Api, control: ControlClient) -> None:
    files = [("a.png", PNG, "image/png"), ("b.jpg", b"\xff\xd8\xff" + b"1" * 10, "image/jpeg"),
             ("c.webp", b"RIFF0000WEBP", "image/webp")]
    resp = upload(api, files)
    assert resp.status_code == 200, resp.text
    [row] = tickets(control)
    assert [(f["filename"], f["content_type"]) for f in row["files"]] == [
        ("a.png", "image/png"), ("b.jpg", "image/jpeg"), ("c.webp", "image/webp")]
    assert row["files"][0]["size"] == len(PNG)


def test_multipart_without_files_and_with_a_bearer(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    resp = upload(api, [], fields={"subject": "No files", "content": "Just text"}, bearer=token)
    assert resp.status_code == 200
    assert tickets(control)[0]["email"] == "alice@example.com"


def test_five_files_pass_and_six_are_too_many(api: Api, control: ControlClient) -> None:
    five = [(f"{i}.png", PNG, "image/png") for i in range(5)]
    assert upload(api, five).status_code == 200
    before = control.state()
    six = [(f"{i}.png", PNG, "image/png") for i in range(6)]
    assert error_of(upload(api, six, fields={"subject": "Six", "content": "six files",
                                             "customer_email": "six@example.com"})) == (400, "too_many_files")
    assert control.state() == before


@pytest.mark.parametrize(("name", "ctype"), [("notes.txt", "text/plain"), ("anim.gif", "image/gif"),
                                              ("doc.pdf", "application/pdf")])
def test_wrong_file_type_is_invalid_file(api: Api, control: ControlClient, name: str, ctype: str) -> None:
    before = control.state()
    assert error_of(upload(api, [("ok.png", PNG, "image/png"), (name, b"data", ctype)])) == (400, "invalid_file")
    assert control.state() == before


def test_file_size_limit_is_10_mb(api: Api, control: ControlClient) -> None:
    assert upload(api, [("max.png", b"\0" * (10 * MB), "image/png")]).status_code == 200
    before = control.state()
    resp = upload(api, [("big.png", b"\0" * (10 * MB + 1), "image/png")],
                  fields={"subject": "Big", "content": "big file", "customer_email": "big@example.com"})
    assert error_of(resp) == (400, "file_too_large")
    assert control.state() == before


def test_multipart_field_rules(api: Api, control: ControlClient) -> None:
    before = control.state()
    assert error_of(upload(api, [], fields={"subject": "ab", "content": "x", "customer_email": "g@example.com"})
                    ) == (400, "subject_length")
    assert error_of(upload(api, [], fields={"content": "x", "customer_email": "g@example.com"})
                    ) == (400, "invalid_payload")
    assert error_of(upload(api, [("a.png", PNG, "image/png")], fields={"subject": "abc", "content": "x"})
                    ) == (400, "email_required")
    assert control.state() == before


def test_rate_limit_is_two_per_24_hours_on_the_emulator_clock(api: Api, control: ControlClient) -> None:
    assert ticket(api, guest()).status_code == 200
    control.clock.advance(seconds=3600)
    assert ticket(api, guest(customer_email="GUEST@example.com")).status_code == 200  # same e-mail, any case
    before = control.state()
    resp = ticket(api, guest())
    assert error_of(resp) == (429, "rate_limit_exceeded")
    assert control.state() == before
    # Another e-mail is not limited.
    assert ticket(api, guest(customer_email="other@example.com")).status_code == 200
    # 24 h after the first ticket one slot frees up, the second one an hour later.
    control.clock.advance(seconds=23 * 3600)
    assert ticket(api, guest()).status_code == 200
    assert error_of(ticket(api, guest())) == (429, "rate_limit_exceeded")
    control.clock.advance(seconds=3600)
    assert ticket(api, guest()).status_code == 200


def test_rate_limit_follows_the_signed_in_user(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    assert ticket(api, guest(), bearer=token).status_code == 200
    assert ticket(api, guest(customer_email="alice@example.com")).status_code == 200  # guest with her e-mail
    assert error_of(ticket(api, guest(), bearer=token)) == (429, "rate_limit_exceeded")


def test_bad_bearer_and_unknown_paywall(api: Api, control: ControlClient) -> None:
    before = control.state()
    assert error_of(ticket(api, guest(), bearer="emu_at_bad")) == (401, "invalid_token")
    assert error_of(api.post("/api/v1/paywall/9999/support/ticket", json=guest())) == (404, "not_found")
    assert control.state() == before


def test_parts_not_named_files_are_ignored(api: Api, control: ControlClient) -> None:
    parts = [("subject", (None, "Other parts", None)), ("content", (None, "x", None)),
             ("customer_email", (None, "g@example.com", None)), ("attachment", ("a.txt", b"x", "text/plain"))]
    assert api.post(PATH, files=parts).status_code == 200
    assert tickets(control)[0]["files"] == []


def test_form_urlencoded_is_unsupported(api: Api, control: ControlClient) -> None:
    before = control.state()
    resp = api.post(PATH, data={"subject": "Form post", "content": "x", "customer_email": "g@example.com"})
    assert error_of(resp) == (400, "unsupported_media_type")
    assert control.state() == before


SUBJECT_PART = b'--XX\r\nContent-Disposition: form-data; name="subject"\r\n\r\n%s\r\n--XX--\r\n'


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data; boundary=XX", b"garbage"),
    ("multipart/form-data; boundary=YY", SUBJECT_PART % b"Hi"),  # the wrong boundary
    ("multipart/form-data", SUBJECT_PART % b"Hi"),  # no boundary at all
    ("multipart/form-data; boundary=XX", SUBJECT_PART % b"\xff\xfe bad"),  # a text field that is not UTF-8
    ("multipart/form-data; boundary=XX",  # a part header aiohttp cannot parse
     b'--XX\r\nContent-Disposition: form-data; name="a\x13b"\r\n\r\nx\r\n--XX--\r\n'),
    # a Content-Disposition aiohttp only warns about (whatever the warning filters say, it is refused)
    ("multipart/form-data; boundary=XX", b'--XX\r\nContent-Disposition: form-data; name=";x;"\r\n\r\n{}\r\n--XX\r\n'
     + (SUBJECT_PART % b"Hi").removeprefix(b"--XX\r\n")),
    ("multipart/form-data; boundary=XX", b'--XX\r\nContent-Disposition: form-data; =x\r\n\r\n{}\r\n--XX\r\n'
     + (SUBJECT_PART % b"Hi").removeprefix(b"--XX\r\n")),
    ("multipart/form-data; boundary=XX", (SUBJECT_PART % b"Hi").replace(b'name="subject"', b'name="a"; name="b"')),
])
def test_malformed_multipart_is_400_not_500(api: Api, control: ControlClient, content_type: str,
                                            body: bytes) -> None:
    before = control.state()
    assert error_of(api.post(PATH, data=body, headers={"Content-Type": content_type})) == (400, "invalid_request")
    assert control.state() == before
