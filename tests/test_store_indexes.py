"""Monetize's indexes (`Store.rows_by_user`, `payments_by_subscription`, `external_ids`, checkouts by
visitor, the unpaid checkouts, sign-in's lookups in `AuthTables`) stay true to the tables: after every
kind of write (checkout, payment, renewal, refund, balance, re-attribution, sign-in), a reset, a world
load and a restore from a state file, reads see the new rows, and the indexes equal a rebuild."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from paywall_emulator.config import EmulatorConfig
from paywall_emulator.products.monetize.models_auth import AuthTables
from paywall_emulator.products.monetize.state import Store
from paywall_emulator.testing import ControlClient, ThreadedEmulator

from .conftest import ACME_KEY, STRIPE_PW, TOKEN_PW, Api
from .worlds import bundled

PASSWORD = "correct horse battery staple"


def indexes_are_true(emu: ThreadedEmulator) -> None:
    def check() -> None:
        store: Store = emu.world.states["monetize"]
        rebuilt = Store(subscriptions=store.subscriptions, payments=store.payments, balances=store.balances,
                        links=store.links, checkouts=store.checkouts)
        # A user whose rows all moved away keeps an empty entry; a rebuild has none.
        assert _without_empty(store.rows_by_user) == rebuilt.rows_by_user
        assert store.payments_by_subscription == rebuilt.payments_by_subscription
        assert store.external_ids == rebuilt.external_ids
        assert {k: v for k, v in store.visitor_checkouts.items() if v} == rebuilt.visitor_checkouts
        assert set(store.unpaid_checkouts) == set(rebuilt.unpaid_checkouts)

    emu.call(check)


def _without_empty(rows: dict[Any, Any]) -> dict[Any, Any]:
    return {k: v for k, v in rows.items() if v.subscriptions or v.payments or v.balance_types}


def user(api: Api, **params: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY, params=params)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def balances(api: Api, token: str) -> dict[str, int]:
    resp = api.get(f"/api/v1/paywall/{TOKEN_PW}/balances", bearer=token)
    assert resp.status_code == 200, resp.text
    return {row["type"]: row["count"] for row in resp.json()["balances"]}


def adjust(api: Api, email: str, op: str, amount: int) -> None:
    resp = api.post(f"/api/v1/paywall/{TOKEN_PW}/balances", key=ACME_KEY,
                    json={"email": email, "type": "standard", "amount": amount, "op": op})
    assert resp.status_code == 200, resp.text


def test_every_write_is_read_back_and_indexed(api: Api, emu: ThreadedEmulator, control: ControlClient) -> None:
    sub_checkout = api.start_checkout({"email": "ivy@example.com", "priceId": "102", "userMeta": {"userId": "ext_ivy"}})
    control.complete_checkout(sub_checkout)
    control.complete_checkout(api.start_checkout({"email": "ivy.life@example.com", "priceId": "103"}))
    assert [p["interval"] for p in user(api, email="ivy.life@example.com")["purchases"]] == ["lifetime"]
    ivy = user(api, user_id="ext_ivy")  # found through the external-id index
    assert ivy["paid"] is True
    [sub] = ivy["purchases"]
    control.renew_subscription(sub["id"])
    state = control.state()["monetize"]
    sub_payments = [p for p in state["payments"] if p["subscription_id"] == sub["id"]]
    assert len(sub_payments) == 2  # the first charge and the renewal
    control.refund_payment(sub_payments[-1]["id"])
    indexes_are_true(emu)
    token = control.mint_token(TOKEN_PW, email="ivy@example.com")  # a link to the token paywall: balance rows
    adjust(api, "ivy@example.com", "credit", 40)
    credited = balances(api, token)["standard"]
    adjust(api, "ivy@example.com", "debit", 15)
    assert credited >= 40 and balances(api, token)["standard"] == credited - 15
    indexes_are_true(emu)


def test_re_attributed_purchases_move_in_the_index(api: Api, emu: ThreadedEmulator) -> None:
    document = bundled()
    for paywall in document["monetize"]["paywalls"]:
        if paywall["id"] == STRIPE_PW:
            paywall["auth"] = {"email_confirmation": False}
    emu.control.load_world(document)
    visitor = "v" * 8 + "fedcba9876543210"
    emu.control.complete_checkout(api.start_checkout(
        {"email": "guest.two@example.com", "priceId": 102, "visitorId": visitor}, key=None))
    assert user(api, email="guest.two@example.com")["paid"] is True
    for route in ("signup", "signin"):
        signed = api.post(f"/api/v1/paywall/{STRIPE_PW}/auth/email/{route}",
                          json={"email": "owner.two@example.com", "password": PASSWORD,
                                "visitor_id": visitor if route == "signin" else "short"})
        assert signed.status_code == 200, signed.text
    guest, owner = user(api, email="guest.two@example.com"), user(api, email="owner.two@example.com")
    assert guest["purchases"] == [] and guest["paid"] is False
    assert len(owner["purchases"]) == 1 and owner["paid"] is True
    indexes_are_true(emu)


def test_reset_and_world_load_rebuild_the_indexes(api: Api, emu: ThreadedEmulator, control: ControlClient) -> None:
    control.complete_checkout(api.start_checkout({"email": "gone@example.com", "priceId": "102",
                                                  "userMeta": {"userId": "ext_gone"}}))
    assert user(api, email="gone@example.com")["paid"] is True
    control.reset()
    indexes_are_true(emu)
    assert api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY,
                   params={"user_id": "ext_gone"}).status_code == 404
    alice = user(api, user_id="ext_alice")  # the world file's users and purchases, indexed on load
    assert alice == user(api, email="alice@example.com") and alice["purchases"]
    document = bundled()
    control.complete_checkout(api.start_checkout({"email": "gone@example.com", "priceId": "102"}))
    control.load_world(document)
    assert [p["id"] for p in user(api, user_id="ext_alice")["purchases"]] == [p["id"] for p in alice["purchases"]]
    assert api.get(f"/api/v1/paywall/{STRIPE_PW}/user", key=ACME_KEY,
                   params={"email": "gone@example.com"}).status_code == 404
    indexes_are_true(emu)


def test_a_restored_world_is_indexed(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    with ThreadedEmulator(EmulatorConfig(state_file=state)) as emu:
        api = Api(emu.base_url)
        emu.control.complete_checkout(api.start_checkout({"email": "kept.ix@example.com", "priceId": "102",
                                                          "userMeta": {"userId": "ext_kept"}}))
        token = emu.control.mint_token(TOKEN_PW, email="kept.ix@example.com")
        adjust(api, "kept.ix@example.com", "credit", 7)
        kept_balances = balances(api, token)
        before = user(api, user_id="ext_kept")
        assert api.post("/_emulator/snapshot").status_code == 200
    with ThreadedEmulator(EmulatorConfig(state_file=state)) as emu:
        api = Api(emu.base_url)
        assert user(api, user_id="ext_kept") == before
        assert balances(api, token) == kept_balances  # tokens are saved too
        assert before["paid"] is True and len(before["purchases"]) == 1
        indexes_are_true(emu)
        emu.control.renew_subscription(before["purchases"][0]["id"])  # writes after a restore are indexed too
        indexes_are_true(emu)


def test_open_checkout_index_drops_what_expired_or_closed(api: Api, emu: ThreadedEmulator,
                                                          control: ControlClient) -> None:
    started = [api.start_checkout({"email": f"exp{i}@example.com", "priceId": "102"}) for i in range(40)]
    control.complete_checkout(started[0])  # closed at the front of the index
    control.complete_checkout(started[20])  # and in the middle
    control.clock.advance(days=2)
    later = api.start_checkout({"email": "later@example.com", "priceId": "102"})
    statuses = {c["id"]: c["status"] for c in control.state()["monetize"]["checkouts"]}
    ids = [control.checkout_session_id(c) for c in started]
    later_id = control.checkout_session_id(later)
    assert [statuses[i] for i in ids] == ["paid" if n in (0, 20) else "expired" for n in range(40)]
    assert statuses[later_id] == "open"
    assert emu.call(lambda: list(emu.world.states["monetize"].open_checkouts)) == [later_id]
    control.clock.advance(days=2)
    assert {c["id"]: c["status"] for c in control.state()["monetize"]["checkouts"]}[later_id] == "expired"
    assert emu.call(lambda: list(emu.world.states["monetize"].open_checkouts)) == []


def sign_in_lookups_are_true(emu: ThreadedEmulator) -> None:
    def check() -> None:
        tables: AuthTables = emu.world.states["monetize"].auth
        rebuilt = AuthTables(accounts=tables.accounts, sessions=tables.sessions, codes=tables.codes)
        assert tables.codes_by_email == rebuilt.codes_by_email and tables.codes_by_link == rebuilt.codes_by_link
        assert tables.pending_emails == rebuilt.pending_emails
        assert tables.identity_owners == rebuilt.identity_owners
        assert tables.sessions_by_user == rebuilt.sessions_by_user

    emu.call(check)


def test_sign_in_lookups_follow_every_write(api: Api, emu: ThreadedEmulator, control: ControlClient) -> None:
    """Codes by address and link, addresses waiting for confirmation, OAuth identities and sessions by
    user stay equal to a rebuild through sign-ups, resends, an upgrade waiting then confirmed, an OAuth
    link, sign-outs and a restore."""
    base = f"/api/v1/paywall/{STRIPE_PW}/auth"
    assert api.post(f"{base}/email/signup", json={"email": "ix@example.com", "password": PASSWORD}).ok
    anon = api.post(f"{base}/anonymous/signin", json={}).json()
    assert api.post(f"{base}/anonymous/upgrade", bearer=anon["access_token"],
                    json={"email": "waiting@example.com", "password": PASSWORD}).ok
    sign_in_lookups_are_true(emu)
    assert emu.world.states["monetize"].auth.pending_emails == {"waiting@example.com": anon["user"]["id"]}
    assert api.session.get(control.mailbox("waiting@example.com")[0]["link"], timeout=30).ok  # confirmed
    assert emu.world.states["monetize"].auth.pending_emails == {}
    other = api.post(f"{base}/anonymous/signin", json={}).json()
    verifier = "v" * 86
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    for email in ("first.id@example.com", "second.id@example.com"):  # the second replaces the first
        url = api.post(f"{base}/oauth/init", bearer=other["access_token"], json={
            "provider": "google", "code_challenge": challenge, "code_challenge_method": "s256"}).json()["authorize_url"]
        flow = url.split("flow=")[1]
        answer = api.session.post(f"{api.base_url}/_emulator/oauth/authorize", allow_redirects=False, timeout=30,
                                  data={"flow": flow, "action": "approve", "email": email})
        code = answer.headers["Location"].split("code=")[1]
        assert api.post(f"{base}/oauth/exchange", json={"auth_code": code, "code_verifier": verifier}).ok
    owners = emu.world.states["monetize"].auth.identity_owners
    assert owners == {("google", "second.id@example.com"): other["user"]["id"]}
    assert api.post(f"{base}/signout", bearer=anon["access_token"]).ok
    sign_in_lookups_are_true(emu)
    control.reset()
    sign_in_lookups_are_true(emu)
