"""The `paywalls-ai` world section: loaded exactly, refused whole with the place named."""

from __future__ import annotations

from typing import Any

import pytest

from paywall_emulator.engine.ids import IdFactory
from paywall_emulator.engine.product import WorldLoad
from paywall_emulator.products.paywalls_ai.money import UNIT
from paywall_emulator.products.paywalls_ai.worldfile import WorldSectionError, load_world

from .support import MODEL, T0, section, state


def test_loads_paywalls_keys_models_balances_and_connections() -> None:
    st = state()
    app, shared = st.paywalls["pw_app"], st.paywalls["pw_shared"]
    assert st.keys == {"sk-paywalls-v1-app": "pw_app", "sk-paywalls-v1-shared": "pw_shared"}
    assert app.mode == "default" and shared.mode == "shared" and app.topup_amount == 5 * UNIT
    assert app.models[MODEL].prompt == UNIT // 2 and app.models[MODEL].request == UNIT // 1000
    assert shared.models[MODEL].display_name == MODEL and shared.models[MODEL].request == 0
    assert st.balances == {("pw_app", "alice"): UNIT, ("shared-wallet", "carol"): 3 * UNIT,
                           ("shared-wallet", "dave"): 2 * UNIT}
    assert list(st.connections) == [("pw_shared", "carol")]
    assert "{{url}}" in app.templates["insufficient_funds"]
    assert shared.templates["authorization_required"].startswith("Please let {{ name }}")


def test_empty_section_is_an_empty_product() -> None:
    st = load_world(None, WorldLoad(now=T0, ids=IdFactory(3), id_seed=3))
    assert st.paywalls == {} and st.id_seed == 3 and st.loaded_at == T0


def bad(mutate: Any) -> dict[str, Any]:
    raw = section()
    mutate(raw)
    return raw


@pytest.mark.parametrize(("raw", "where"), [
    (bad(lambda r: r.update(extra=1)), "unknown keys"),
    (bad(lambda r: r["paywalls"][0].update(mode="virtual")), "paywalls[0].mode"),
    (bad(lambda r: r["paywalls"][0].update(keys=["sk-live-x"])), "paywalls[0].keys"),
    (bad(lambda r: r["paywalls"][1].update(keys=["sk-paywalls-v1-app"])), "paywalls[1].keys"),
    (bad(lambda r: r["paywalls"][0].update(balances={"alice": "-1"})), "paywalls[0].balances.alice"),
    (bad(lambda r: r["paywalls"][0].update(balances={"a b": "1"})), "paywalls[0].balances"),
    (bad(lambda r: r["paywalls"][1].update(balances={"x": "1"})), "paywalls[1]"),
    (bad(lambda r: r["paywalls"][0].update(connected=["x"])), "paywalls[0]"),
    (bad(lambda r: r["paywalls"][0]["models"][0]["pricing"].update(prompt=0.5)), "pricing.prompt"),
    (bad(lambda r: r["paywalls"][0].update(templates={"other": "x"})), "templates.other"),
    (bad(lambda r: r["paywalls"][0].update(upstream="ftp://x")), "upstream"),
    (bad(lambda r: r["paywalls"][0].update(markup_percent="lots")), "markup_percent"),
    (bad(lambda r: r["paywalls"].append(r["paywalls"][0] | {"keys": []})), "appears twice"),
    (bad(lambda r: r.update(wallets={"u": "1e3"})), "wallets.u"),
])
def test_refused_whole_naming_the_place(raw: dict[str, Any], where: str) -> None:
    with pytest.raises(WorldSectionError) as info:
        load_world(raw, WorldLoad(now=T0, ids=IdFactory(1), id_seed=1))
    assert where in info.value.message and info.value.http_status == 400
