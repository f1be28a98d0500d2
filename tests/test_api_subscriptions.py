"""POST /api/paywall/cancel-subscription (no /v1, paywall id in the body): cancel at period end on
the apiKey and Bearer paths, a second cancel, unknown and foreign subscriptions, and the
credential rules (no credentials at all is 403 "Unauthorized")."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from paywall_emulator.testing import ControlClient

from .conftest import ACME_KEY, ALICE, PADDLE_PW, RIVAL_KEY, RIVAL_PW, STRIPE_PW, TOKEN_PW, Api, error_of

PATH = "/api/paywall/cancel-subscription"
ALICE_SUB = "sub_seedAlicePro000000000001"
ERIN_SUB = "sub_seedErinPro0000000000001"
GRACE_SUB = "sub_seedGraceRival00000001"


def cancel(api: Api, body: Any, *, key: str | None = ACME_KEY, **kwargs: Any) -> requests.Response:
    return api.post(PATH, key=key, json=body, **kwargs)


def alice_body(**overrides: Any) -> dict[str, Any]:
    return {"subscriptionId": ALICE_SUB, "paywallId": STRIPE_PW, "cancellationReason": "too expensive",
            "email": "alice@example.com", **overrides}


def sub_row(control: ControlClient, sub_id: str) -> dict[str, Any]:
    [row] = [s for s in control.state()["monetize"]["subscriptions"] if s["id"] == sub_id]
    return row


def test_cancel_at_period_end_with_the_owner_key(api: Api, control: ControlClient) -> None:
    period_end = sub_row(control, ALICE_SUB)["current_period_end"]
    resp = cancel(api, alice_body())
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["success"] is True and body["message"] == "Subscription cancelled successfully"
    assert body["subscription"] == {"id": ALICE_SUB, "status": "active", "cancel_at_period_end": True,
                                    "cancel_at": period_end, "canceled_at": None}
    row = sub_row(control, ALICE_SUB)
    assert row["cancel_at_period_end"] is True and row["cancel_at"] == period_end
    assert row["cancellation_reason"] == "too expensive" and row["status"] == "active"
    [event] = [e for e in control.state()["monetize"]["events"] if e["type"] == "subscription.updated"]
    assert event["data"]["subscription"]["cancel_at_period_end"] is True
    # Access continues until the period ends.
    state = api.get(f"/api/v1/paywall/{STRIPE_PW}/user-state", headers={"X-User-Email": "alice@example.com"})
    assert state.json()["has_active_subscription"] is True


@pytest.mark.parametrize("identity", [{"userId": ALICE}, {"userId": "ext_alice", "email": None},
                                      {"email": "ALICE@example.com"}])
def test_identity_by_user_id_external_id_or_email(api: Api, identity: dict[str, Any]) -> None:
    body = {k: v for k, v in alice_body(**identity).items() if v is not None}
    if "userId" in identity:
        body.pop("email", None)
    assert cancel(api, body).status_code == 200, body


def test_paywall_from_the_x_paywall_id_header(api: Api) -> None:
    body = alice_body()
    del body["paywallId"]
    assert cancel(api, body, headers={"X-Paywall-Id": STRIPE_PW}).status_code == 200


def test_numeric_paywall_id_is_accepted(api: Api) -> None:
    assert cancel(api, alice_body(paywallId=3)).status_code == 200


def test_second_cancel_is_400_already_cancelled(api: Api, control: ControlClient) -> None:
    assert cancel(api, alice_body()).status_code == 200
    before = control.state()
    resp = cancel(api, alice_body())
    assert error_of(resp) == (400, "already_cancelled")
    assert resp.json()["error"] == "Subscription is already cancelled"
    # erin was seeded cancelling at period end already.
    erin = {"subscriptionId": ERIN_SUB, "paywallId": STRIPE_PW, "cancellationReason": "x", "email": "erin@example.com"}
    assert error_of(cancel(api, erin)) == (400, "already_cancelled")
    assert control.state() == before


def test_bearer_path_cancels_the_sessions_own_subscription(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    # Body identity and paywallId are ignored on the Bearer path.
    resp = cancel(api, {"subscriptionId": ALICE_SUB, "paywallId": PADDLE_PW, "cancellationReason": "moving",
                        "email": "frank@example.com"}, key=None, bearer=token)
    assert resp.status_code == 200 and resp.json()["subscription"]["cancel_at_period_end"] is True
    assert sub_row(control, ALICE_SUB)["cancellation_reason"] == "moving"


@pytest.mark.parametrize("sub_id", [ERIN_SUB, "sub_does_not_exist", "pi_seedFrankLifetime0000001", GRACE_SUB])
def test_bearer_path_other_or_unknown_subscription_is_404(api: Api, control: ControlClient, sub_id: str) -> None:
    token = control.mint_token(STRIPE_PW, email="alice@example.com")
    before = control.state()
    resp = cancel(api, {"subscriptionId": sub_id, "cancellationReason": "x"}, key=None, bearer=token)
    assert error_of(resp) == (404, "subscription_not_found")
    assert resp.json()["error"] == "Subscription not found"
    assert control.state() == before


def test_api_key_path_refusals(api: Api, control: ControlClient) -> None:
    before = control.state()
    # Another user's subscription, an unknown one, one on another paywall of the same owner.
    assert error_of(cancel(api, alice_body(subscriptionId=ERIN_SUB))) == (404, "subscription_not_found")
    assert error_of(cancel(api, alice_body(subscriptionId="sub_nope"))) == (404, "subscription_not_found")
    assert error_of(cancel(api, alice_body(paywallId=TOKEN_PW))) == (404, "subscription_not_found")
    # Identity problems.
    assert error_of(cancel(api, alice_body(email="nobody@example.com"))) == (404, "identity_not_found")
    assert error_of(cancel(api, alice_body(paywallId=PADDLE_PW))) == (404, "identity_not_on_paywall")
    no_identity = alice_body()
    del no_identity["email"]
    assert error_of(cancel(api, no_identity)) == (400, "identity_required")
    no_paywall = alice_body()
    del no_paywall["paywallId"]
    assert error_of(cancel(api, no_paywall)) == (400, "identity_required")
    assert error_of(cancel(api, alice_body(paywallId="9999"))) == (404, "not_found")
    assert control.state() == before


def test_body_validation(api: Api, control: ControlClient) -> None:
    before = control.state()
    for field, code in [("subscriptionId", "subscription_id_required"),
                        ("cancellationReason", "cancellation_reason_required")]:
        body = alice_body()
        del body[field]
        assert error_of(cancel(api, body)) == (400, code)
        assert error_of(cancel(api, alice_body(**{field: ""}))) == (400, code)
    assert error_of(cancel(api, alice_body(paywallId=""))) == (400, "paywall_id_required")
    assert error_of(cancel(api, alice_body(paywallId=[3]))) == (400, "paywall_id_required")
    assert error_of(cancel(api, alice_body(email="alice"))) == (400, "invalid_email")
    assert control.state() == before


def test_credentials(api: Api, control: ControlClient) -> None:
    before = control.state()
    resp = cancel(api, alice_body(), key=None)
    assert error_of(resp) == (403, "forbidden") and resp.json()["error"] == "Unauthorized"
    assert error_of(cancel(api, alice_body(), key="sk_emulator_wrong")) == (401, "invalid_api_key")
    assert error_of(cancel(api, alice_body(), key=None, bearer="emu_at_bad")) == (401, "invalid_token")
    # Another owner's key on Acme's paywall.
    assert error_of(cancel(api, alice_body(), key=RIVAL_KEY)) == (403, "forbidden")
    # Acme's key on the rival's paywall, for the rival's subscriber.
    grace = {"subscriptionId": GRACE_SUB, "paywallId": RIVAL_PW, "cancellationReason": "x",
             "email": "grace@rival.example"}
    assert error_of(cancel(api, grace)) == (403, "forbidden")
    assert control.state() == before
    assert cancel(api, grace, key=RIVAL_KEY).status_code == 200


def test_key_and_bearer_together_take_the_key_path(api: Api, control: ControlClient) -> None:
    token = control.mint_token(STRIPE_PW, email="frank@example.com")
    assert cancel(api, alice_body(), bearer=token).status_code == 200
    assert sub_row(control, ALICE_SUB)["cancel_at_period_end"] is True
    assert sub_row(control, ALICE_SUB)["user_id"] == ALICE
