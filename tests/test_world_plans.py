"""World plans: a world document is checked once and every reset builds each product's state afresh from
the plan. A reset after any change equals a fresh world (every product); nothing mutable is shared between
two builds, two worlds or the plan and a caller's document; relative times count from each reset's now."""

from __future__ import annotations

import collections
import copy
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paywall_emulator.app import BUNDLED, bundled_products
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine import snapshot
from paywall_emulator.engine.clock import EmulatorClock
from paywall_emulator.engine.product import WorldError
from paywall_emulator.engine.structs import is_frozen
from paywall_emulator.engine.templates import template
from paywall_emulator.engine.world import World, default_document
from paywall_emulator.engine.worldfile import default_world

T0 = datetime(2031, 3, 10, 9, 30, tzinfo=UTC)
PRODUCTS = tuple(BUNDLED)


def world(at: datetime = T0, document: dict[str, Any] | None = None) -> World:
    w = World.create(EmulatorConfig(start_time=at, id_seed=11), bundled_products(), foreign=frozenset(BUNDLED))
    if document is not None:
        w.load(document)
    return w


def dumps(w: World) -> dict[str, Any]:
    return {name: snapshot.encode(state) for name, state in w.states.items()}


def richer() -> dict[str, Any]:
    """The bundled world plus what it lacks: a password, an absolute start, a canceled subscription, a
    generated purchase id, an endpoint with a generated secret and a paywall in another time zone."""
    document = copy.deepcopy(default_document(bundled_products()))
    monetize = document["monetize"]
    monetize["owners"][0]["webhooks"] = [{"url": "https://hooks.example.com/a", "events": ["subscription.*"]}]
    monetize["paywalls"][3]["timezone"] = "Pacific/Kiritimati"
    monetize["users"].append({
        "id": "c0ffee00-0000-4000-8000-0000000000aa", "email": "zoe@example.com", "password": "correct horse",
        "created_days_ago": 400, "paywalls": [
            {"paywall": "3", "meta": {"userId": "ext_zoe", "tags": ["a", {"b": [1]}]},
             "purchases": [{"price": "101", "status": "canceled", "started_days_ago": 45},
                           {"id": "sub_zoeAbsolute0000000001", "price": "102",
                            "started_at": (T0 - timedelta(days=500)).isoformat()}]},
            {"paywall": "15", "balances": {"standard": 7}}]})
    return document


def mutable_parts(value: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every mutable object reachable from `value` (entities, lists, dicts, sets), each once."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    if isinstance(value, dict | list | set):
        seen.add(id(value))
        yield value
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else list(value)
        for item in items:
            yield from mutable_parts(item, seen)
    elif isinstance(value, tuple):  # not itself mutable, but it may hold what is (YAML's `!!pairs`)
        for item in value:
            yield from mutable_parts(item, seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        if is_frozen(type(value)):
            return
        seen.add(id(value))
        yield value
        for f in dataclasses.fields(value):
            yield from mutable_parts(getattr(value, f.name), seen)


def vandalise(state: Any) -> int:
    """Change every mutable thing in `state` in place; how many were changed."""
    changed = 0
    for part in list(mutable_parts(state)):
        if isinstance(part, dict):
            part["vandal"] = "x"
        elif isinstance(part, list):
            part.append("vandal")
        elif isinstance(part, set):
            part.add("vandal")
        else:
            for f in dataclasses.fields(part):
                if isinstance(getattr(part, f.name), str):
                    setattr(part, f.name, "vandal")
        changed += 1
    return changed


@pytest.mark.parametrize("product", PRODUCTS)
def test_a_reset_after_any_change_equals_a_fresh_world(product: str) -> None:
    w = world(document=richer())
    assert vandalise(w.states[product]) > 20
    w.reset()
    assert dumps(w) == dumps(world(document=richer()))
    vandalise(w.states[product])
    w.restore()
    assert dumps(w) == dumps(world())


@pytest.mark.parametrize("product", PRODUCTS)
def test_two_builds_and_two_worlds_share_nothing_mutable(product: str) -> None:
    document = richer()
    first, second = world(document=document), world(document=document)
    before = first.states[product]
    first.reset()
    mine = {id(part) for part in mutable_parts(first.states[product])}
    for other in (before, second.states[product], document):
        assert not mine & {id(part) for part in mutable_parts(other)}


def test_a_loaded_document_changed_by_its_caller_is_not_what_reset_returns_to() -> None:
    """The world keeps its own copy: what it resets to, saves and shows stay what was loaded."""
    document = richer()
    w = world(document=document)
    document["monetize"]["paywalls"][0]["name"] = "Changed after loading"
    document["monetize"]["users"].clear()
    w.reset()
    assert dumps(w) == dumps(world(document=richer()))
    assert w.document == richer()


def test_relative_times_count_from_each_resets_now() -> None:
    """A plan checked at T0 and built at a later instant holds what a world loaded then holds: days ago,
    period ends rolled forward, offers' expiry, today's top-up date in each paywall's zone, connections."""
    later = T0 + timedelta(days=73, hours=17, minutes=5)
    w = world(document=richer())
    w.clock = EmulatorClock(frozen_at=later)
    w.reset()
    assert dumps(w) == dumps(world(later, richer()))
    store = w.states["monetize"]
    assert store.users["c0ffee00-0000-4000-8000-0000000000aa"].created_at == later - timedelta(days=400)
    assert store.offers["501"].expires_at == later + timedelta(days=30)
    assert w.states["paywalls-ai"].loaded_at == later


def test_a_reset_refuses_a_start_now_in_the_future_and_changes_nothing() -> None:
    """An absolute `started_at` is checked against each reset's now: a clock restarting before it refuses
    the reset with the loader's own message, and the world stays as it was."""
    w = world(document=richer())
    w.clock = EmulatorClock(frozen_at=T0 - timedelta(days=600))
    kept = w.states
    with pytest.raises(WorldError) as info:
        w.reset()
    assert str(info.value) == "users[7].paywalls[0].purchases[1]: started_at must lie within the 36525 days before now"
    assert info.value.section == "monetize" and w.states is kept


def test_a_refused_document_leaves_the_plans_and_the_world_alone() -> None:
    w = world()
    bad = richer()
    bad["paykit"]["accounts"].append({"userId": "x", "plan": "gold"})
    with pytest.raises(WorldError, match=r"accounts\[3\]\.plan"):
        w.load(bad)
    vandalise(w.states["monetize"])
    w.reset()
    assert dumps(w) == dumps(world())


Pair = collections.namedtuple("Pair", "a b")


def test_templates_refuse_what_they_cannot_copy() -> None:
    @dataclasses.dataclass
    class Odd:
        handle: object

    with pytest.raises(TypeError, match="object cannot be templated"):
        template(Odd(handle=object()))
    with pytest.raises(TypeError, match="Pair holding mutable values"):
        template(Odd(handle=Pair(a=[1], b=2)))
    made = template(Odd(handle=([1], {"b": [2]}))).make()  # a plain tuple of mutable values: fresh copies
    again = template(Odd(handle=made.handle)).make()
    assert again.handle == ([1], {"b": [2]}) and again.handle[0] is not made.handle[0]
    assert again.handle[1]["b"] is not made.handle[1]["b"]


def test_yaml_pairs_in_free_form_values_load_reset_and_share_nothing(tmp_path: Path) -> None:
    """YAML's `!!pairs` and `!!omap` (tuples holding mappings, in paywall settings and a link's meta) load
    as they did before world plans, and every reset builds its own copies of them."""
    text = (Path(default_world()).read_text()
            .replace("brand_color:", "extra: !!pairs [a: {b: 1}], brand_color:", 1)
            .replace("meta: {userId: ext_alice", "meta: {tags: !!omap [a: [1]], userId: ext_alice", 1))
    path = tmp_path / "pairs.yaml"
    path.write_text(text)
    w = World.create(EmulatorConfig(start_time=T0, world=path), bundled_products(), foreign=frozenset(BUNDLED))
    store = w.states["monetize"]
    extra = next(p.settings["extra"] for p in store.paywalls.values() if "extra" in p.settings)
    meta = next(link.meta["tags"] for link in store.links.values() if "tags" in link.meta)
    assert extra == [("a", {"b": 1})] and meta == [("a", [1])]
    w.reset()
    again = w.states["monetize"]
    assert next(p.settings["extra"] for p in again.paywalls.values() if "extra" in p.settings) == extra
    assert not {id(part) for part in mutable_parts(again)} & {id(part) for part in mutable_parts(store)}


def test_plans_are_checked_again_for_another_id_seed() -> None:
    w = world(document=richer())
    w.config.id_seed = 12
    w.reset()
    fresh = World.create(EmulatorConfig(start_time=T0, id_seed=12), bundled_products(), foreign=frozenset(BUNDLED))
    fresh.load(richer())
    assert dumps(w) == dumps(fresh) != dumps(world(document=richer()))


def test_the_monetize_plan_builds_every_table_the_check_filled() -> None:
    """The plan copies the tables it knows; the store the section's check filled (every table the loader
    writes) is the reference, so a table the loader learns to fill cannot be left out of the plan."""
    from paywall_emulator.engine.ids import IdFactory
    from paywall_emulator.engine.product import WorldLoad
    from paywall_emulator.products.monetize.state import Store
    from paywall_emulator.products.monetize.worldfile import _Loader, plan_section

    section = richer()["monetize"]
    checked = _Loader(Store(seed=11, ids=IdFactory(11)), T0)
    checked.load(section)
    checked.store.reindex()
    built = plan_section(section, WorldLoad(now=T0, ids=IdFactory(11), id_seed=11))(
        WorldLoad(now=T0, ids=IdFactory(11), id_seed=11))
    assert snapshot.encode(built) == snapshot.encode(checked.store)
    assert {name for name, value in snapshot.encode(built).items() if value} >= {
        "owners", "api_keys", "webhook_endpoints", "paywalls", "prices", "offers", "providers", "users",
        "users_by_email", "links", "balances", "subscriptions", "payments", "subscription_due", "auth"}
