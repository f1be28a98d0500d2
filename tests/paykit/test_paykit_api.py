"""PayKit over HTTP against a served emulator: every documented rule with its exact body and the state
after it — keys and their order, the ledger's limits and edges, rights, projects, analytics, checkout
through the fake Stripe, the signed webhook (verified by the `stripe` library), time, and concurrency."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import stripe

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.products.paykit import signing
from paywall_emulator.testing import ControlClient, ControlError, ThreadedEmulator

from .support import (
    DEMO_PK,
    DEMO_SK,
    DEMO_WHSEC,
    LOCKED_PK,
    LOCKED_SK,
    STUDIO,
    STUDIO_PK,
    STUDIO_SK,
    STUDIO_WHSEC,
    PayKit,
    error,
)


@pytest.fixture
def pk(emu: ThreadedEmulator) -> PayKit:
    return PayKit(emu.base_url)


def paykit_state(control: ControlClient) -> dict[str, Any]:
    return dict(control.state()["paykit"])


def account_row(control: ControlClient, project: str, user: str) -> dict[str, Any] | None:
    rows = [a for a in paykit_state(control)["accounts"] if a["projectId"] == project and a["userId"] == user]
    return rows[0] if rows else None


# --- access and keys -----------------------------------------------------------------------------------


def test_access_creates_the_account_on_first_touch(pk: PayKit, control: ControlClient) -> None:
    assert account_row(control, "default", "user_123") is None
    resp = pk.access("user_123")
    assert resp.status_code == 200
    assert resp.json() == {"userId": "user_123", "plan": "free", "credits": 5, "entitlements": []}
    assert account_row(control, "default", "user_123") is not None


def test_accounts_are_per_project(pk: PayKit) -> None:
    assert pk.meter("same", key=STUDIO_PK).json() == {"ok": True, "remaining": 4}
    assert pk.credits_of("same", key=STUDIO_PK) == 4
    assert pk.credits_of("same") == 5
    assert pk.credits_of("same", key=DEMO_SK) == 5


def test_world_accounts_are_served(pk: PayKit) -> None:
    assert pk.access("alice", key=STUDIO_PK).json() == {"userId": "alice", "plan": "pro", "credits": 120,
                                                          "entitlements": ["pro"]}


@pytest.mark.parametrize("params", [{}, {"userId": ""}])
@pytest.mark.parametrize("key", [None, "pk_live_nope"])
def test_access_without_user_is_400(pk: PayKit, control: ControlClient, params: dict[str, str],
                                    key: str | None) -> None:
    """`userId` is a required parameter whose `x-error` is PayKit's sentence: missing or empty, the answer
    is that 400, before the key is looked at, and no account is made."""
    before = paykit_state(control)["accounts"]
    resp = pk.request("GET", "/access", params=params, key=key)
    assert error(resp) == (400, {"error": "userId is required"})
    assert paykit_state(control)["accounts"] == before


def test_an_unknown_key_is_401_and_touches_nothing(pk: PayKit, control: ControlClient) -> None:
    for resp in [pk.access("u", key="pk_live_nope"), pk.meter("u", key="sk_live_nope"),
                 pk.credits("u", key="pk_nope", amount=5), pk.checkout("u", key="pk_nope"),
                 pk.request("GET", "/analytics", params={"key": "nope"}),
                 pk.request("GET", "/accounts", params={"key": "nope"})]:
        assert error(resp) == (401, {"error": "Invalid API key"})
    assert account_row(control, "default", "u") is None


def test_validation_comes_before_the_key(pk: PayKit) -> None:
    assert error(pk.meter("u", "", key="pk_nope")) == (400, {"error": "userId and event are required"})
    assert error(pk.request("GET", "/access", key="pk_nope")) == (400, {"error": "userId is required"})


def test_key_lookup_order_header_then_body_then_query(pk: PayKit, control: ControlClient) -> None:
    # header wins over a bad body key and a bad query key
    resp = pk.request("POST", "/meter", key=STUDIO_PK, params={"key": "bad"},
                      json={"userId": "k1", "event": "e", "key": "bad"})
    assert resp.json() == {"ok": True, "remaining": 4}
    # body key wins over a bad query key
    resp = pk.request("POST", "/meter", params={"key": "bad"}, json={"userId": "k1", "event": "e", "key": STUDIO_PK})
    assert resp.json() == {"ok": True, "remaining": 3}
    # query alone
    resp = pk.request("POST", "/meter", params={"key": STUDIO_PK}, json={"userId": "k1", "event": "e"})
    assert resp.json() == {"ok": True, "remaining": 2}
    # a non-string body key is ignored: the query decides
    resp = pk.request("POST", "/meter", params={"key": "bad"}, json={"userId": "k1", "event": "e", "key": 5})
    assert error(resp) == (401, {"error": "Invalid API key"})
    assert account_row(control, STUDIO, "k1")["credits"] == 2  # type: ignore[index]
    assert account_row(control, "default", "k1") is None


# --- meter ---------------------------------------------------------------------------------------------


def test_meter_until_blocked_then_402_with_nothing_deducted(pk: PayKit, control: ControlClient) -> None:
    assert [pk.meter("m").json()["remaining"] for _ in range(5)] == [4, 3, 2, 1, 0]
    resp = pk.meter("m")
    assert resp.status_code == 402
    assert resp.json() == {"ok": False, "blocked": True, "remaining": 0, "error": "Insufficient credits"}
    assert pk.credits_of("m") == 0
    metered = [u for u in paykit_state(control)["usage"] if u["userId"] == "m" and u["kind"] == "meter"]
    assert len(metered) == 5


def test_a_cost_above_the_balance_blocks_without_deducting(pk: PayKit) -> None:
    resp = pk.meter("c", cost=6)
    assert resp.status_code == 402 and resp.json()["remaining"] == 5
    assert pk.meter("c", cost=5).json() == {"ok": True, "remaining": 0}


@pytest.mark.parametrize(("event", "accepted"), [("e", True), ("e" * 64, True), ("", False), ("e" * 65, False),
                                                 ("   ", False)])
def test_event_length_edges(pk: PayKit, event: str, accepted: bool) -> None:
    resp = pk.meter("ev", event)
    if accepted:
        assert resp.json() == {"ok": True, "remaining": 4}
    else:
        assert error(resp) == (400, {"error": "userId and event are required"})
        assert pk.credits_of("ev") == 5


@pytest.mark.parametrize(("cost", "accepted"), [(1, True), (1_000_000, True), (0, False), (1_000_001, False),
                                               (-1, False), (1.5, False), ("1", False)])
def test_cost_edges(pk: PayKit, cost: Any, accepted: bool) -> None:
    assert pk.credits("big", key=DEMO_SK, amount=1_000_000).status_code == 200
    resp = pk.meter("big", cost=cost)
    if accepted:
        assert resp.json() == {"ok": True, "remaining": 1_000_005 - cost}
    else:
        assert error(resp) == (400, {"error": "cost must be a positive integer ≤ 1000000"})
        assert pk.credits_of("big") == 1_000_005


@pytest.mark.parametrize(("cost_usd", "accepted"), [(0, True), (1_000_000, True), (0.0123, True), (-0.01, False),
                                                    (1_000_000.01, False), ("1", False)])
def test_cost_usd_edges(pk: PayKit, cost_usd: Any, accepted: bool) -> None:
    resp = pk.meter("usd", costUsd=cost_usd)
    if accepted:
        assert resp.status_code == 200
    else:
        assert error(resp) == (400, {"error": "costUsd must be a non-negative number ≤ 1000000"})
        assert pk.credits_of("usd") == 5


@pytest.mark.parametrize("body", [{"event": "e"}, {"userId": 5, "event": "e"}, {"userId": "u"}])
def test_meter_missing_fields(pk: PayKit, body: dict[str, Any]) -> None:
    assert error(pk.request("POST", "/meter", json=body)) == (400, {"error": "userId and event are required"})


def test_meter_body_that_is_not_json_is_400(pk: PayKit) -> None:
    resp = pk.request("POST", "/meter", data=b"{nope", headers={"Content-Type": "application/json"})
    status, _ = error(resp)
    assert status == 400


def test_secure_metering_refuses_the_publishable_key(pk: PayKit, control: ControlClient) -> None:
    resp = pk.meter("s", key=LOCKED_PK)
    assert error(resp) == (403, {"error": "This project requires the secret key to meter (server-side)"})
    assert account_row(control, "proj_locked", "s") is None
    assert pk.meter("s", key=LOCKED_SK).json() == {"ok": True, "remaining": 4}
    assert pk.access("s", key=LOCKED_PK).json()["credits"] == 4  # reading stays open


# --- credits -------------------------------------------------------------------------------------------


def test_credits_need_the_secret_key_outside_the_demo(pk: PayKit, control: ControlClient) -> None:
    resp = pk.credits("g", key=STUDIO_PK, amount=10)
    assert error(resp) == (403, {"error": "Granting credits requires your secret key (server-side)"})
    assert account_row(control, STUDIO, "g") is None
    resp = pk.credits("g", key=STUDIO_SK, amount=100, plan="pro")
    assert resp.json() == {"userId": "g", "plan": "pro", "credits": 105, "entitlements": ["pro"]}
    resp = pk.credits("g", key=STUDIO_SK, plan="free")
    assert resp.json() == {"userId": "g", "plan": "free", "credits": 105, "entitlements": []}
    assert pk.credits("d", key=DEMO_PK, amount=3).json()["credits"] == 8  # the open sandbox
    assert pk.credits("d", amount=1).json()["credits"] == 9  # no key: the demo project too


@pytest.mark.parametrize(("extra", "message"), [({"amount": 0}, "amount must be a positive integer ≤ 1000000"),
                                                ({"amount": 1_000_001}, "amount must be a positive integer ≤ 1000000"),
                                                ({"amount": 2.5}, "amount must be a positive integer ≤ 1000000"),
                                                ({"plan": "gold"}, "unknown plan"),
                                                ({"plan": 1}, "unknown plan")])
def test_credits_limits(pk: PayKit, extra: dict[str, Any], message: str) -> None:
    assert error(pk.credits("l", key=STUDIO_SK, **extra)) == (400, {"error": message})
    assert pk.credits_of("l", key=STUDIO_PK) == 5


@pytest.mark.parametrize("amount", [1, 1_000_000])
def test_credits_amount_edges(pk: PayKit, amount: int) -> None:
    assert pk.credits("a", key=STUDIO_SK, amount=amount).json()["credits"] == 5 + amount


# --- dashboard -----------------------------------------------------------------------------------------


def test_accounts_and_analytics_of_a_project(pk: PayKit) -> None:
    pk.meter("bob2", "chat", key=STUDIO_SK, costUsd=0.5)
    pk.meter("bob2", "chat", key=STUDIO_SK, costUsd=0.25)
    pk.meter("bob2", "tts", key=STUDIO_SK)
    pk.credits("bob2", key=STUDIO_SK, amount=100)
    pk.credits("carol", key=STUDIO_SK, plan="pro")
    accounts = pk.request("GET", "/accounts", params={"key": STUDIO_PK}).json()
    users = {a["userId"]: a for a in accounts["accounts"]}
    assert users["bob2"] == {"userId": "bob2", "plan": "free", "credits": 102, "entitlements": []}
    pro = sum(1 for a in accounts["accounts"] if a["plan"] == "pro")
    outstanding = sum(a["credits"] for a in accounts["accounts"])
    assert accounts["stats"] == {"total": len(users), "pro": pro, "mrr": pro * 19, "creditsOutstanding": outstanding,
                                 "free": len(users) - pro}
    data = pk.request("GET", "/analytics", params={"key": STUDIO_SK}).json()
    assert data["meteredThisMonth"] == 3
    assert data["creditsSoldThisMonth"] == 100
    assert data["costUsd"] == 0.75 and data["revenueUsd"] == 9 and data["netUsd"] == 8.25
    assert data["marginPct"] == 91.7
    assert data["topEvents"] == [{"name": "chat", "count": 2}, {"name": "tts", "count": 1}]
    assert len(data["series"]) == 14 and data["series"][-1]["metered"] == 3 and data["series"][-1]["granted"] == 100
    assert [(r["userId"], r["kind"], r["name"], r["amount"]) for r in data["recent"]] == [
        ("carol", "plan", "pro", 0), ("bob2", "grant", "credits", 100), ("bob2", "meter", "tts", -1),
        ("bob2", "meter", "chat", -1), ("bob2", "meter", "chat", -1)]
    assert data["recent"][3]["costUsd"] == 0.25 and "costUsd" not in data["recent"][2]
    assert data["recent"][0]["at"].endswith("Z") and len(data["recent"][0]["at"]) == len("2026-01-01T00:00:00.000Z")
    assert data["stats"] == {k: v for k, v in accounts["stats"].items() if k != "free"}
    demo = pk.request("GET", "/analytics").json()
    assert demo["meteredThisMonth"] == 0  # scoped: the demo project saw nothing


def test_recent_is_newest_first_on_a_frozen_clock(pk: PayKit, control: ControlClient) -> None:
    """Every entry shares one instant when the clock is frozen: the log's own order decides, newest first."""
    control.clock.freeze()
    for name in ["e0", "e1", "e2", "e3", "e4", "e5"]:
        pk.meter("frozen", name, key=STUDIO_SK)  # the sixth is blocked (5 credits) and not logged
    pk.credits("frozen", key=STUDIO_SK, amount=10, plan="pro")
    data = pk.request("GET", "/analytics", params={"key": STUDIO_SK}).json()
    assert len({r["at"] for r in data["recent"]}) == 1
    assert [(r["kind"], r["name"], r["amount"]) for r in data["recent"]] == [
        ("grant", "credits", 10), ("plan", "pro", 0), ("meter", "e4", -1), ("meter", "e3", -1), ("meter", "e2", -1),
        ("meter", "e1", -1)]


# --- projects ------------------------------------------------------------------------------------------


def test_projects_create_list_patch(pk: PayKit) -> None:
    created = pk.request("POST", "/projects", json={"name": "  Fresh  "}).json()
    assert created["name"] == "Fresh" and created["secureMetering"] is False
    assert created["publishableKey"].startswith("pk_live_") and created["secretKey"].startswith("sk_live_")
    listed = pk.request("GET", "/projects").json()
    assert listed["authConfigured"] is False
    assert created in listed["projects"] and all(p["id"] != "default" for p in listed["projects"])
    # the new keys work at once, and the project's accounts are its own
    assert pk.meter("n", key=created["publishableKey"]).json() == {"ok": True, "remaining": 4}
    resp = pk.request("PATCH", "/projects", json={"secureMetering": True, "key": created["secretKey"]})
    assert resp.json() == {"id": created["id"], "secureMetering": True}
    assert pk.meter("n", key=created["publishableKey"]).status_code == 403
    assert pk.meter("n", key=created["secretKey"]).json() == {"ok": True, "remaining": 3}
    off = pk.request("PATCH", "/projects", key=created["secretKey"], json={"secureMetering": False})
    assert off.json() == {"id": created["id"], "secureMetering": False}
    assert pk.meter("n", key=created["publishableKey"]).json() == {"ok": True, "remaining": 2}
    assert pk.request("POST", "/projects", data=b"not json").json()["name"] == "Untitled project"
    assert pk.request("POST", "/projects", json={"name": "x" * 100}).status_code == 200
    assert error(pk.request("POST", "/projects", json={"name": "x" * 101})) == (
        400, {"error": "name must be ≤ 100 characters"})


def test_projects_with_emulated_sign_in(pk: PayKit, control: ControlClient,
                                       paykit_world: Callable[[dict[str, Any]], None]) -> None:
    """With `auth.required` the owner is the Bearer's: no owner is 401 (nothing created), each owner lists
    only its own projects; PATCH stays authorised by the project's secret key alone."""
    paykit_world({"auth": {"required": True}, "projects": [
        {"id": "p_one", "publishableKey": "pk_live_one", "secretKey": "sk_live_one", "owner": "owner_1"}]})
    assert error(pk.request("GET", "/projects")) == (401, {"error": "Not signed in"})
    assert error(pk.request("GET", "/projects", headers={"Authorization": "Basic b3duZXJfMQ=="})) == (
        401, {"error": "Not signed in"})
    assert error(pk.request("POST", "/projects", json={"name": "x"})) == (
        401, {"error": "Sign in to create a project"})
    assert {p["id"] for p in paykit_state(control)["projects"]} == {"default", "p_one"}
    mine = pk.request("GET", "/projects", headers={"Authorization": "Bearer owner_1"}).json()
    assert mine["authConfigured"] is True and [p["id"] for p in mine["projects"]] == ["p_one"]
    made = pk.request("POST", "/projects", headers={"Authorization": "Bearer owner_2"}, json={"name": "Two"}).json()
    theirs = pk.request("GET", "/projects", headers={"Authorization": "Bearer owner_2"}).json()["projects"]
    assert theirs == [made]
    assert [p["id"] for p in pk.request("GET", "/projects", headers={"Authorization": "Bearer owner_1"}).json()[
        "projects"]] == ["p_one"]
    toggled = pk.request("PATCH", "/projects", json={"secureMetering": True, "key": made["secretKey"]})
    assert toggled.json() == {"id": made["id"], "secureMetering": True}


@pytest.mark.parametrize(("key", "body", "expected"), [
    (None, {"secureMetering": True}, (401, "Secret key required")),
    (STUDIO_PK, {"secureMetering": True}, (401, "Secret key required")),
    (STUDIO_SK, {"secureMetering": "yes"}, (400, "secureMetering (boolean) is required")),
    ("sk_live_unknown", {"secureMetering": True}, (401, "Invalid secret key")),
])
def test_patch_project_refusals(pk: PayKit, key: str | None, body: dict[str, Any], expected: tuple[int, str]) -> None:
    status, got = error(pk.request("PATCH", "/projects", key=key, json=body))
    assert (status, got["error"]) == expected
    assert pk.meter("p", key=STUDIO_PK).status_code == 200  # nothing changed


# --- checkout, the fake Stripe and the webhook ---------------------------------------------------------


def test_checkout_answers_a_hosted_page_and_paying_grants_the_pack(pk: PayKit, control: ControlClient,
                                                                    emu: ThreadedEmulator) -> None:
    resp = pk.checkout("buyer", key=STUDIO_PK)
    url = resp.json()["url"]
    assert url.startswith(f"{emu.base_url}/_emulator/paykit/checkout/cs_test_")
    page = pk.session.get(url, timeout=30)
    assert page.status_code == 200 and "$9.00 USD" in page.text and "100 credits" in page.text
    done = pk.session.post(url, data={"action": "pay", "card": "4242 4242 4242 4242"}, allow_redirects=False,
                           timeout=30)
    assert done.status_code == 303 and done.headers["Location"] == "https://studio.example/?paid=1"
    assert pk.access("buyer", key=STUDIO_PK).json() == {"userId": "buyer", "plan": "free", "credits": 105,
                                                          "entitlements": []}
    events = paykit_state(control)["events"]
    assert [(e["type"], e["status"]) for e in events] == [("checkout.session.completed", "delivered")]
    assert events[0]["attempts"][0]["status"] == 200 and json.loads(events[0]["attempts"][0]["body"]) == {
        "received": True}
    again = pk.session.post(url, data={"action": "pay"}, allow_redirects=False, timeout=30)
    assert again.status_code == 409 and "complete" in again.text
    assert pk.credits_of("buyer", key=STUDIO_PK) == 105


def test_cancel_returns_to_canceled_and_changes_nothing(pk: PayKit) -> None:
    url = pk.checkout("quitter", key=STUDIO_PK).json()["url"]
    done = pk.session.post(url, data={"action": "cancel"}, allow_redirects=False, timeout=30)
    assert done.status_code == 303 and done.headers["Location"] == "https://studio.example/?canceled=1"
    assert pk.credits_of("quitter", key=STUDIO_PK) == 5


def test_return_urls_use_the_projects_base_url_else_the_worlds_else_the_emulators(
        pk: PayKit, emu: ThreadedEmulator, paykit_world: Callable[[dict[str, Any]], None]) -> None:
    def returns(key: str) -> tuple[str, str, str]:
        paid = pk.session.post(pk.checkout("ret", key=key).json()["url"], data={"action": "pay"},
                               allow_redirects=False, timeout=30)
        cancel = pk.session.post(pk.checkout("ret", key=key).json()["url"], data={"action": "cancel"},
                                 allow_redirects=False, timeout=30)
        portal_url = pk.request("POST", "/portal", key=key, json={"userId": "ret"}).json()["url"]
        portal = pk.session.get(portal_url, timeout=30)
        back = portal.text.split('data-testid="return-link" href="', 1)[1].split('"', 1)[0]
        return paid.headers["Location"], cancel.headers["Location"], back

    # the bundled world: the demo project has no base URL and the world none either
    assert returns(DEMO_PK) == (f"{emu.base_url}/?paid=1", f"{emu.base_url}/?canceled=1", f"{emu.base_url}/?portal=1")
    paykit_world({"baseUrl": "http://localhost:3000/", "projects": [
        {"id": STUDIO, "publishableKey": STUDIO_PK, "secretKey": STUDIO_SK, "baseUrl": "https://studio.example"}]})
    assert returns(DEMO_PK) == ("http://localhost:3000/?paid=1", "http://localhost:3000/?canceled=1",
                                "http://localhost:3000/?portal=1")
    assert returns(STUDIO_PK) == ("https://studio.example/?paid=1", "https://studio.example/?canceled=1",
                                  "https://studio.example/?portal=1")


def test_a_world_whose_base_url_is_not_http_is_refused_whole(pk: PayKit, control: ControlClient) -> None:
    """A base URL with a line break used to load, then broke the connection of every redirect to it; a
    `javascript:` one was sent as the Location. Refused at load now, naming the entry; the world stays."""
    for section in [{"baseUrl": "http://app.test/\nSet-Cookie: x=1"},
                    {"projects": [{"id": "p", "publishableKey": "pk_p", "secretKey": "sk_p",
                                   "baseUrl": "javascript:alert(1)"}]}]:
        with pytest.raises(ControlError) as exc:
            control.load_world({"paykit": section})
        assert exc.value.status == 400 and "must be an absolute http(s) URL" in str(exc.value.body)
    done = pk.session.post(pk.checkout("kept", key=STUDIO_PK).json()["url"], data={"action": "cancel"},
                           allow_redirects=False, timeout=30)
    assert done.status_code == 303 and done.headers["Location"] == "https://studio.example/?canceled=1"


def test_hosted_pages_open_from_another_site_but_the_control_api_does_not(pk: PayKit) -> None:
    url = pk.checkout("nav").json()["url"]
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert pk.session.get(url, headers=navigate, timeout=30).status_code == 200
    posted = pk.session.post(url, data={"action": "pay"}, headers={"Origin": "http://elsewhere.example"},
                             allow_redirects=False, timeout=30)
    assert error(posted) == (403, {"error": "the control API answers no cross-origin browser request"})
    events = pk.session.get(f"{pk.base_url}/_emulator/paykit/events", headers=navigate, timeout=30)
    assert error(events)[0] == 403  # only pages a person opens may be navigated to
    assert pk.credits_of("nav") == 5


def test_pro_checkout_then_portal_cancel_reverts_to_free(pk: PayKit, control: ControlClient) -> None:
    url = pk.checkout("pat", "pro", key=DEMO_PK).json()["url"]
    assert "$19.00 USD" in pk.session.get(url, timeout=30).text
    session_id = urlsplit(url).path.rsplit("/", 1)[1]
    paid = control.request("POST", f"/paykit/checkout/{session_id}/complete")
    assert paid["status"] == "complete" and paid["subscription"].startswith("sub_")
    acct = pk.access("pat").json()
    assert (acct["plan"], acct["entitlements"], acct["stripeCustomerId"]) == ("pro", ["pro"], paid["customer"])
    portal = pk.request("POST", "/portal", json={"userId": "pat"}).json()["url"]
    page = pk.session.get(portal, timeout=30)
    assert paid["subscription"] in page.text
    done = pk.session.post(portal, data={"action": "cancel_now", "subscription": paid["subscription"]},
                           allow_redirects=False, timeout=30)
    assert done.status_code == 303
    assert pk.access("pat").json()["plan"] == "free" and pk.access("pat").json()["entitlements"] == []
    types = [e["type"] for e in paykit_state(control)["events"]]
    assert types == ["checkout.session.completed", "customer.subscription.deleted"]


def test_the_portal_refuses_what_it_cannot_cancel(pk: PayKit, control: ControlClient) -> None:
    url = pk.checkout("owner", "pro").json()["url"]
    paid = control.request("POST", f"/paykit/checkout/{urlsplit(url).path.rsplit('/', 1)[1]}/complete")
    other = pk.request("POST", "/portal", json={"userId": "someone_else"}).json()["url"]
    page = pk.session.post(other, data={"action": "cancel_now", "subscription": paid["subscription"]},
                           allow_redirects=False, timeout=30)
    assert page.status_code == 404 and "No such subscription" in page.text
    assert pk.access("owner").json()["plan"] == "pro"
    mine = pk.request("POST", "/portal", json={"userId": "owner"}).json()["url"]
    assert pk.session.post(mine, data={"action": "cancel_now", "subscription": paid["subscription"]},
                           allow_redirects=False, timeout=30).status_code == 303
    again = pk.session.post(mine, data={"action": "cancel_now", "subscription": paid["subscription"]},
                            allow_redirects=False, timeout=30)
    assert again.status_code == 409 and "already ended" in again.text
    assert error(pk.session.get(f"{pk.base_url}/_emulator/paykit/portal/bps_nope", timeout=30)) == (
        404, {"error": "No such portal session: bps_nope"})


def test_pro_renews_on_the_clock_and_ends_at_period_end(pk: PayKit, control: ControlClient) -> None:
    url = pk.checkout("ren", "pro").json()["url"]
    paid = control.request("POST", f"/paykit/checkout/{urlsplit(url).path.rsplit('/', 1)[1]}/complete")
    control.clock.advance(days=62)
    sub = next(s for s in paykit_state(control)["subscriptions"] if s["id"] == paid["subscription"])
    assert sub["renewals"] == 2 and sub["status"] == "active"
    assert pk.access("ren").json()["plan"] == "pro"
    cancelled = control.request("POST", f"/paykit/subscriptions/{paid['subscription']}/cancel", {"atPeriodEnd": True})
    assert cancelled["cancelAtPeriodEnd"] is True and cancelled["status"] == "active"
    assert pk.access("ren").json()["plan"] == "pro"
    control.clock.advance(days=31)
    assert pk.access("ren").json()["plan"] == "free"
    events = paykit_state(control)["events"]
    assert [e["type"] for e in events] == ["checkout.session.completed", "invoice.paid", "invoice.paid",
                                           "customer.subscription.updated", "customer.subscription.deleted"]
    assert all(e["status"] == "delivered" for e in events)


def _signed(payload: bytes, secret: str, at: int) -> dict[str, str]:
    return {"Stripe-Signature": signing.header(payload, secret, at), "Content-Type": "application/json"}


def _completed(user: str, **metadata: str) -> bytes:
    return json.dumps({"id": "evt_test", "object": "event", "type": "checkout.session.completed", "created": 1,
                       "data": {"object": {"object": "checkout.session", "customer": "cus_T",
                                           "metadata": {"userId": user, **metadata}}}}).encode()


def test_webhook_verifies_the_signature(pk: PayKit, control: ControlClient) -> None:
    now = int(control.clock.now().timestamp())
    payload = _completed(f"{STUDIO}:w", packCredits="100")
    for headers in [_signed(payload, DEMO_WHSEC, now), _signed(payload, STUDIO_WHSEC, now - 301),
                    {"Stripe-Signature": "t=1,v1=00"}, {},
                    {"Stripe-Signature": f"t={now},v1=\u00fc".encode()}]:  # non-ASCII: no constant-time str compare
        resp = pk.request("POST", "/webhook", data=payload, headers=headers)
        assert error(resp) == (400, {"error": "Invalid signature"})
    assert account_row(control, STUDIO, "w") is None
    resp = pk.request("POST", "/webhook", data=payload, headers=_signed(payload, STUDIO_WHSEC, now))
    assert resp.status_code == 200 and resp.json() == {"received": True}
    assert pk.access("w", key=STUDIO_PK).json() == {"userId": "w", "plan": "free", "credits": 105,
                                                      "entitlements": [], "stripeCustomerId": "cus_T"}


def test_the_webhook_accepts_what_the_stripe_library_signs(pk: PayKit, control: ControlClient) -> None:
    """A `Stripe-Signature` made by `stripe.WebhookSignature.generate_signature_header` (the library's own
    signer) is verified and applied; the same header with a space after the comma names no `v1` for
    Stripe's libraries, and is refused here too."""
    now = int(control.clock.now().timestamp())
    payload = _completed(f"{STUDIO}:lib_signed", packCredits="100")
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), STUDIO_WHSEC, timestamp=now)
    spaced = header.replace(",", ", ")
    refused = pk.request("POST", "/webhook", data=payload, headers={"Stripe-Signature": spaced})
    assert error(refused) == (400, {"error": "Invalid signature"})
    assert account_row(control, STUDIO, "lib_signed") is None
    resp = pk.request("POST", "/webhook", data=payload, headers={"Stripe-Signature": header})
    assert (resp.status_code, resp.json()) == (200, {"received": True})
    assert pk.credits_of("lib_signed", key=STUDIO_PK) == 105


def test_webhook_that_cannot_be_applied_is_500_and_changes_nothing(pk: PayKit, control: ControlClient) -> None:
    now = int(control.clock.now().timestamp())
    payload = _completed(f"{STUDIO}:h", plan="gold")
    resp = pk.request("POST", "/webhook", data=payload, headers=_signed(payload, STUDIO_WHSEC, now))
    assert error(resp) == (500, {"error": "Handler error"})
    assert account_row(control, STUDIO, "h") is None


def test_the_stripe_library_accepts_the_emulators_signature(pk: PayKit,
                                                            paykit_world: Callable[[dict[str, Any]], None]) -> None:
    """Capture a real delivery on a local receiver, verify it with `stripe.Webhook.construct_event`, then
    forward it untouched to PayKit's webhook."""
    captured: list[tuple[bytes, str]] = []

    async def receive(request: aiohttp.web.Request) -> aiohttp.web.Response:
        captured.append((await request.read(), request.headers["Stripe-Signature"]))
        return aiohttp.web.json_response({"ok": True})

    receiver = _Receiver(receive)
    with receiver:
        paykit_world({"webhookUrl": receiver.url, "projects": [
            {"id": STUDIO, "publishableKey": STUDIO_PK, "secretKey": STUDIO_SK, "webhookSecret": STUDIO_WHSEC}]})
        url = pk.checkout("lib", key=STUDIO_PK).json()["url"]
        pk.session.post(url, data={"action": "pay"}, allow_redirects=False, timeout=30)
    payload, header = captured[0]
    # The default tolerance (300 s) holds: the test emulator's clock follows wall time.
    event = stripe.Webhook.construct_event(payload.decode(), header, STUDIO_WHSEC)
    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["metadata"].to_dict() == {"userId": f"{STUDIO}:lib", "packCredits": "100"}
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload.decode(), header, "whsec_wrong")
    assert pk.credits_of("lib", key=STUDIO_PK) == 5  # delivered elsewhere: the ledger has not moved
    forwarded = pk.request("POST", "/webhook", data=payload, headers={"Stripe-Signature": header})
    assert forwarded.json() == {"received": True}
    assert pk.credits_of("lib", key=STUDIO_PK) == 105


def test_a_failed_delivery_is_retried_on_the_clock(pk: PayKit, control: ControlClient,
                                                  paykit_world: Callable[[dict[str, Any]], None]) -> None:
    """At least once: a receiver answering 500 gets the event again 1 minute later (emulator time), signed
    anew; the event is delivered once a 2xx comes back."""
    answers = [500, 200]
    seen: list[str] = []

    async def receive(request: aiohttp.web.Request) -> aiohttp.web.Response:
        seen.append(request.headers["Stripe-Signature"])
        return aiohttp.web.json_response({"n": len(seen)}, status=answers[min(len(seen), 2) - 1])

    with _Receiver(receive) as receiver:
        paykit_world({"webhookUrl": receiver.url})
        url = pk.checkout("retry").json()["url"]
        pk.session.post(url, data={"action": "pay"}, allow_redirects=False, timeout=30)
        event = paykit_state(control)["events"][0]
        assert (event["status"], [a["status"] for a in event["attempts"]]) == ("pending", [500])
        control.clock.advance(minutes=1)
        event = paykit_state(control)["events"][0]
    assert (event["status"], [a["status"] for a in event["attempts"]]) == ("delivered", [500, 200])
    assert len(seen) == 2 and seen[0] != seen[1]  # signed per attempt, with the attempt's timestamp


def test_stripe_not_configured_is_501(pk: PayKit, paykit_world: Callable[[dict[str, Any]], None]) -> None:
    paykit_world({"stripe": {"configured": False}})
    assert error(pk.checkout("u")) == (501, {"error": "Stripe not configured. Set STRIPE_SECRET_KEY."})
    assert error(pk.request("POST", "/portal", json={"userId": "u"})) == (
        501, {"error": "Stripe not configured. Set STRIPE_SECRET_KEY."})
    assert error(pk.request("POST", "/webhook", data=b"{}")) == (501, {"error": "Stripe not configured"})


@pytest.mark.parametrize("kind", ["gift", "", 3])
def test_checkout_kind_must_be_known(pk: PayKit, kind: Any) -> None:
    resp = pk.request("POST", "/checkout", json={"userId": "u", "kind": kind})
    assert error(resp) == (400, {"error": 'kind must be "credits" or "pro"'})


# --- concurrency ---------------------------------------------------------------------------------------


def test_a_thousand_concurrent_meters_on_600_credits(pk: PayKit, emu: ThreadedEmulator,
                                                     control: ControlClient) -> None:
    assert pk.credits("crowd", key=STUDIO_SK, amount=595).json()["credits"] == 600

    async def storm() -> list[int]:
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def one() -> int:
                async with session.post(f"{emu.base_url}/api/v1/meter", headers={"x-paykit-key": STUDIO_PK},
                                        json={"userId": "crowd", "event": "burst"}) as resp:
                    await resp.read()
                    return resp.status
            return list(await asyncio.gather(*(one() for _ in range(1000))))

    statuses = asyncio.run(storm())
    assert statuses.count(200) == 600 and statuses.count(402) == 400
    assert pk.credits_of("crowd", key=STUDIO_PK) == 0
    # the log holds exactly the 600 deductions (a blocked meter logs nothing)
    usage = paykit_state(control)["usage"]
    assert len([u for u in usage if u["userId"] == "crowd" and u["kind"] == "meter"]) == 600


class _Receiver:
    """A one-route aiohttp server on its own loop thread (the fake Stripe's delivery target)."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.url = ""

    def __enter__(self) -> _Receiver:
        import threading

        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def start() -> None:
            app = aiohttp.web.Application()
            app.router.add_post("/hook", self.handler)
            self._runner = aiohttp.web.AppRunner(app)
            await self._runner.setup()
            site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}/hook"
            ready.set()

        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(start(), self._loop)
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()



def test_the_paykit_world_survives_a_restart_with_serve_state(tmp_path: Path) -> None:
    """Same port before and after, as `serve --port P --state F` runs: the fake Stripe keeps posting to the
    webhook URL recorded at checkout."""
    state_file = tmp_path / "world.json"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with ThreadedEmulator(EmulatorConfig(state_file=state_file), port=port) as emu:
        pk = PayKit(emu.base_url)
        pk.meter("kept", key=STUDIO_PK)
        url = pk.checkout("kept", "pro", key=STUDIO_PK).json()["url"]
        emu.control.request("POST", f"/paykit/checkout/{urlsplit(url).path.rsplit('/', 1)[1]}/complete")
    with ThreadedEmulator(EmulatorConfig(state_file=state_file), port=port) as emu:
        pk = PayKit(emu.base_url)
        assert pk.access("kept", key=STUDIO_PK).json()["credits"] == 4
        assert pk.access("kept", key=STUDIO_PK).json()["plan"] == "pro"
        emu.control.clock.advance(days=31)  # the restored subscription renews: its due work was rebuilt
        types = [e["type"] for e in emu.control.state()["paykit"]["events"]]
        assert types == ["checkout.session.completed", "invoice.paid"]
        assert all(e["status"] == "delivered" for e in emu.control.state()["paykit"]["events"])
