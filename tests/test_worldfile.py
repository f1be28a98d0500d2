"""World documents (the monetize section here): a good one replaces the world and becomes what reset
returns to (`restore` goes back to the world file); a bad one is refused whole with 400
`invalid_request` naming the offending entry, through the control API and from a file, and changes
nothing. Never another exception, never a hang."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from paywall_emulator.app import bundled_products
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.product import WorldError
from paywall_emulator.engine.world import World
from paywall_emulator.engine.worldfile import read_world
from paywall_emulator.testing import ThreadedEmulator
from tests.worlds import monetize_section, monetize_store

from .conftest import ACME_KEY, Api, error_of

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
DEFAULT = monetize_section()


def small() -> dict[str, Any]:
    """A valid minimal world: one owner, one paywall with two prices, one subscriber."""
    return {
        "owners": [{"id": "own_x", "name": "X Corp", "api_keys": ["sk_x_1"]}],
        "paywalls": [{"id": "900", "owner": "own_x", "name": "X Pro", "acquirer": "paddle",
                      "prices": [{"id": "9001", "amount": 5, "interval": "month"},
                                 {"id": "9002", "amount": 50, "interval": "lifetime"}],
                      "tokenization": {"types": [{"type": "standard", "daily_trial": 3}]}}],
        "users": [{"id": "u-x-1", "email": "x1@example.com", "paywalls": [
            {"paywall": "900", "balances": {"standard": 9},
             "purchases": [{"id": "sub_x1", "price": "9001", "status": "active", "started_days_ago": 40}]}]}],
    }


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = small()
    change(doc)
    return doc


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets doc[a][i][b]... = value, for a dotted path with integer list indexes."""
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return change


def _append(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        node.append(copy.deepcopy(value))
    return change


# (name, broken document, words the error message must contain)
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level key", mutated(_set("plans", [])), "plans"),
    ("owner without id", mutated(_set("owners.0.id", "")), "owners[0]"),
    ("api key not sk_", mutated(_set("owners.0.api_keys", ["pk_live_1"])), "sk_"),
    ("api key of two owners", mutated(_append("owners", {"id": "own_y", "api_keys": ["sk_x_1"]})), "two owners"),
    ("duplicate owner", mutated(_append("owners", {"id": "own_x"})), "duplicate owner"),
    ("unknown owner", mutated(_set("paywalls.0.owner", "own_nobody")), "paywalls[0]: unknown owner"),
    ("duplicate paywall", mutated(lambda d: d["paywalls"].append(copy.deepcopy(d["paywalls"][0]))),
     "duplicate paywall"),
    ("unknown acquirer", mutated(_set("paywalls.0.acquirer", "paypal")), "acquirer"),
    ("unknown timezone", mutated(_set("paywalls.0.timezone", "Mars/Olympus")), "timezone"),
    ("price without amount", mutated(lambda d: d["paywalls"][0]["prices"][0].pop("amount")), "amount"),
    ("bad interval", mutated(_set("paywalls.0.prices.0.interval", "fortnight")), "interval"),
    ("zero interval count", mutated(_set("paywalls.0.prices.0.interval_count", 0)), "interval_count"),
    ("negative interval count", mutated(_set("paywalls.0.prices.0.interval_count", -1)), "interval_count"),
    ("negative trial", mutated(_set("paywalls.0.prices.0.trial_days", -3)), "trial_days"),
    ("endless trial", mutated(_set("paywalls.0.prices.0.trial_days", 10**9)), "trial_days"),
    ("negative amount", mutated(_set("paywalls.0.prices.0.amount", -5)), "amount"),
    ("duplicate price", mutated(_set("paywalls.0.prices.1.id", "9001")), "duplicate price"),
    ("token type without name", mutated(_set("paywalls.0.tokenization.types.0", {"daily_trial": 1})),
     "types"),
    ("negative daily trial", mutated(_set("paywalls.0.tokenization.types.0.daily_trial", -1)), "daily_trial"),
    ("provider of an unknown type", mutated(_set("paywalls.0.providers", [{"id": "p1", "type": "gpt-5"}])),
     "not a token type"),
    ("user on an unknown paywall", mutated(_set("users.0.paywalls.0.paywall", "404")), "unknown paywall"),
    ("user linked twice to a paywall", mutated(lambda d: d["users"][0]["paywalls"].append({"paywall": "900"})),
     "twice"),
    ("duplicate user email", mutated(_append("users", {"id": "u-x-2", "email": "X1@example.com"})),
     "duplicate user"),
    ("unknown balance type", mutated(_set("users.0.paywalls.0.balances", {"premium": 1})), "premium"),
    ("balance beyond the maximum", mutated(lambda d: d["users"][0]["paywalls"][0].__setitem__(
        "balances", {t["type"]: 2**31 for t in d["paywalls"][0]["tokenization"]["types"][:1]})), "2147483647"),
    ("foreign price in a purchase", mutated(_set("users.0.paywalls.0.purchases.0.price", "101")),
     "not a price of paywall 900"),
    ("active lifetime purchase", mutated(_set("users.0.paywalls.0.purchases.0.price", "9002")), "lifetime"),
    ("duplicate purchase id", mutated(lambda d: d["users"][0]["paywalls"][0]["purchases"].append(
        {"id": "sub_x1", "price": "9001"})), "duplicate purchase"),
    ("purchase in the future", mutated(_set("users.0.paywalls.0.purchases.0.started_days_ago", -2)),
     "started_days_ago"),
    ("purchase too long ago", mutated(_set("users.0.paywalls.0.purchases.0.started_days_ago", 1e9)),
     "started_days_ago"),
    ("started_at without offset", mutated(_set("users.0.paywalls.0.purchases.0.started_at", "2029-12-01T00:00:00")),
     "started_at"),
    ("started_at in the future", mutated(_set("users.0.paywalls.0.purchases.0.started_at", "2099-01-01T00:00:00Z")),
     "started_at"),
    ("user created too long ago", mutated(_set("users.0.created_days_ago", 1e12)), "created_days_ago"),
    ("offer expiring in a million years", mutated(_set("paywalls.0.offers", [{"id": "o1", "expires_in_days": 4e8}])),
     "expires_in_days"),
]


@pytest.fixture
def restore_default(emu: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    yield emu
    emu.restore()


@pytest.mark.usefixtures("restore_default")
def test_a_good_world_replaces_the_world_and_reset_returns_to_it(api: Api, emu: ThreadedEmulator) -> None:
    assert emu.control.load_world({"monetize": small()}) == {"loaded": True, "sections": ["monetize"]}
    assert error_of(api.get("/api/v1/paywall/3/bootstrap")) == (404, "not_found")
    user = api.get("/api/v1/paywall/900/user", key="sk_x_1", params={"email": "x1@example.com"}).json()
    assert user["paid"] is True and user["balances"] == [{"type": "standard", "count": 9}]
    assert user["purchases"][0]["id"] == "sub_x1"
    assert error_of(api.get("/api/v1/paywall/900/user", key=ACME_KEY)) == (401, "invalid_api_key")
    api.post("/api/v1/paywall/900/start-checkout", key="sk_x_1", json={"email": "n@example.com", "priceId": 9002})
    assert {u["email"] for u in emu.control.state()["monetize"]["users"]} == {"x1@example.com", "n@example.com"}
    emu.control.reset()
    assert {u["email"] for u in emu.control.state()["monetize"]["users"]} == {"x1@example.com"}
    emu.restore()  # the world file the emulator started with
    assert api.get("/api/v1/paywall/3/bootstrap").ok and error_of(api.get("/api/v1/paywall/900/bootstrap"))[0] == 404


@pytest.mark.parametrize(("doc", "words"), [(doc, words) for _, doc, words in BAD], ids=[n for n, _, _ in BAD])
def test_a_bad_world_is_refused_whole_through_the_control_api(api: Api, emu: ThreadedEmulator, doc: dict[str, Any],
                                                             words: str) -> None:
    before = emu.control.state()
    resp = api.post("/_emulator/world", json={"monetize": doc})
    assert error_of(resp) == (400, "invalid_request")
    body = resp.json()
    assert words in body["message"] + str(body.get("details", "")), body
    assert emu.control.state() == before
    emu.control.reset()
    assert emu.control.state()["monetize"]["paywalls"] == before["monetize"]["paywalls"]


@pytest.mark.parametrize(("data", "code"), [(b"{not json", "invalid_json"), (b"[]", "invalid_request"),
                                            (b'{"owners": "x"}', "invalid_request"),
                                            (b'{"monetize": {"owners": "x"}}', "invalid_request"),
                                            (b'{"monetize": []}', "invalid_request")])
def test_a_world_that_is_not_a_document_is_refused(api: Api, emu: ThreadedEmulator, data: bytes, code: str) -> None:
    before = emu.control.state()
    resp = api.post("/_emulator/world", data=data, headers={"Content-Type": "application/json"})
    assert error_of(resp) == (400, code)
    assert emu.control.state() == before


# --- the monetize loader itself (it validates every entry; the control API's schema checks only sections) ---

GARBAGE: list[tuple[str, dict[str, Any]]] = [
    ("owners not a list", {"owners": "own_x"}),
    ("owner not a mapping", {"owners": ["own_x"]}),
    ("webhooks not mappings", mutated(_set("owners.0.webhooks", ["http://x"]))),
    ("prices not mappings", mutated(_set("paywalls.0.prices", [5]))),
    ("tokenization a list", mutated(_set("paywalls.0.tokenization", [{"type": "standard"}]))),
    ("token type not a mapping", mutated(_set("paywalls.0.tokenization.types", ["standard"]))),
    ("interval count text", mutated(_set("paywalls.0.prices.0.interval_count", "two"))),
    ("amount text", mutated(_set("paywalls.0.prices.0.amount", "cheap"))),
    ("settings a list", mutated(_set("paywalls.0.settings", ["dark"]))),
    ("offer expiry text", mutated(_set("paywalls.0.offers", [{"id": "o1", "expires_in_days": "soon"}]))),
    ("created_days_ago text", mutated(_set("users.0.created_days_ago", "long ago"))),
    ("balances a list", mutated(_set("users.0.paywalls.0.balances", [9]))),
    ("balance count text", mutated(_set("users.0.paywalls.0.balances", {"standard": "nine"}))),
    ("meta a list", mutated(_set("users.0.paywalls.0.meta", ["x"]))),
    ("purchase started text", mutated(_set("users.0.paywalls.0.purchases.0.started_days_ago", "x"))),
    ("purchases a mapping", mutated(_set("users.0.paywalls.0.purchases", {"id": "sub_x1"}))),
]


@pytest.mark.parametrize("doc", [d for _, d in GARBAGE], ids=[n for n, _ in GARBAGE])
def test_the_loader_turns_any_malformed_entry_into_a_world_error(doc: dict[str, Any]) -> None:
    store = monetize_store(small(), now=NOW)
    users = dict(store.users)
    with pytest.raises(WorldError):
        monetize_store(doc, now=NOW)
    assert store.users == users and set(store.paywalls) == {"900"}


@pytest.mark.parametrize("name", [n for n, _, _ in BAD])
def test_the_loader_refuses_the_bad_documents_too(name: str) -> None:
    [(doc, words)] = [(d, w) for n, d, w in BAD if n == name]
    with pytest.raises(WorldError) as info:
        monetize_store(doc, now=NOW)
    assert words in str(info.value)


def test_read_world_refuses_missing_files_and_non_documents(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match=r"missing\.yaml does not exist"):
        read_world(tmp_path / "missing.yaml")
    with pytest.raises(WorldError, match="cannot read world file"):
        read_world(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("owners: [\n", encoding="utf-8")
    with pytest.raises(WorldError, match=r"broken.yaml:2:1: not valid YAML: "):
        read_world(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(WorldError, match="must be a mapping"):
        read_world(listed)


def test_an_emulator_does_not_start_on_a_bad_world_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"monetize": mutated(_set("paywalls.0.owner", "own_nobody"))}), encoding="utf-8")
    with pytest.raises(WorldError, match="unknown owner"):
        World.create(EmulatorConfig(world=bad), bundled_products())


def test_an_emulator_serves_a_world_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"monetize": small()}), encoding="utf-8")
    with ThreadedEmulator(EmulatorConfig(world=good)) as emu:
        resp = requests.get(f"{emu.base_url}/api/v1/paywall/900/bootstrap", timeout=30)
        assert resp.status_code == 200 and [p["id"] for p in resp.json()["prices"]] == ["9001", "9002"]


def test_the_bundled_world_matches_the_readme_table() -> None:
    store = monetize_store(DEFAULT, now=NOW)
    acquirers = {pid: p.acquirer for pid, p in store.paywalls.items()}
    assert acquirers == {"3": "stripe", "7": "paddle", "12": "freemius", "15": "stripe", "31": "chargebee",
                         "32": "overpay", "40": "stripe"}
    owners = {pid: p.owner_id for pid, p in store.paywalls.items()}
    assert {pid for pid, o in owners.items() if o == "own_rival"} == {"40"}
    tokenized = store.paywalls["15"]
    assert [(t.type, t.daily_trial) for t in tokenized.token_types] == [("standard", 10), ("advanced", 2),
                                                                        ("free", 0)]
    assert store.prices["101"].trial_days == 7 and not store.prices["100"].active
    assert store.offers and len(store.users) >= 5


def test_a_purchase_may_start_at_an_absolute_instant() -> None:
    doc = mutated(_set("users.0.paywalls.0.purchases.0.started_at", "2029-11-20T12:00:00Z"))
    store = monetize_store(doc, now=NOW)
    sub = store.subscriptions["sub_x1"]
    assert sub.created == datetime(2029, 11, 20, 12, tzinfo=UTC)
    assert (sub.current_period_start, sub.current_period_end) == (
        datetime(2029, 12, 20, 12, tzinfo=UTC), datetime(2030, 1, 20, 12, tzinfo=UTC))
