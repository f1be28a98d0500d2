"""Serving a subset of the bundled products (`EmulatorConfig.products`, `serve --products`, the plugin's
`--paywall-products`): only those are routed, loaded and dumped; a world file's sections of the products
left out are skipped, an unknown section is still refused; the others' modules are never imported; a bad
name is one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from paywall_emulator.app import BUNDLED, bundled_products
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.testing import ControlError, ThreadedEmulator

from .worlds import bundled


def test_a_paykit_only_emulator_serves_paykit_alone() -> None:
    with ThreadedEmulator(EmulatorConfig(products=("paykit",))) as emu:
        assert emu.control.health()["products"] == ["paykit"]
        access = requests.get(f"{emu.base_url}/api/v1/access", params={"userId": "solo"},
                              headers={"x-paykit-key": "pk_live_demo"}, timeout=10)
        assert access.status_code == 200 and access.json()["credits"] == 5
        for path in ("/api/v1/paywall/3/bootstrap", "/v1/models", "/_emulator/events"):
            assert requests.get(emu.base_url + path, timeout=10).status_code == 404, path
        state = emu.control.state()
        assert [k for k in state if k not in ("id_seed", "page")] == ["paykit"]
        # The bundled world (all three sections) loads: the other products' sections are skipped.
        document = bundled()
        assert set(document) == set(BUNDLED)
        emu.control.load_world(document)
        with pytest.raises(ControlError) as refused:
            emu.control.load_world({**document, "shop": {}})
        assert refused.value.status == 400 and "shop: unknown section" in str(refused.value.body)
        with pytest.raises(LookupError, match=r"does not serve monetize\.software"):
            _ = emu.paywalls


def test_products_left_out_are_never_imported() -> None:
    probe = ("import sys; from paywall_emulator.app import create_app; from paywall_emulator.config import "
             "EmulatorConfig; create_app(EmulatorConfig(products=('paykit',))); "
             "print(sorted({m.split('.')[2] for m in sys.modules if m.startswith('paywall_emulator.products.')}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "['paykit']"


def test_bundled_products_are_chosen_by_name_in_order() -> None:
    assert [p.name for p in bundled_products()] == list(BUNDLED)
    assert [p.name for p in bundled_products(["paywalls-ai", "monetize", "paywalls-ai"])] == ["paywalls-ai", "monetize"]
    with pytest.raises(ValueError, match="unknown product 'shop'"):
        bundled_products(["shop"])


@pytest.mark.parametrize("names", ["shop", "monetize,shop", ",", "Monetize"])
def test_serve_refuses_a_name_that_is_not_a_product(names: str) -> None:
    out = subprocess.run([sys.executable, "-m", "paywall_emulator", "serve", "--port", "0", "--products", names],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith("paywall-emulator serve: --products: ") and "monetize, paykit, paywalls-ai" in line
