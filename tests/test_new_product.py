"""A product can be added without touching the engine: a package-sized product written here (one spec
file, one operation, one table, its own world section, its own error shape) is served next to monetize
by `create_app`, reset and world-loaded with the rest, and its routes collide with nobody's."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from paywall_emulator.app import bundled_products, create_app
from paywall_emulator.config import EmulatorConfig
from paywall_emulator.engine.errors import NotFoundError
from paywall_emulator.engine.openapi import SpecError
from paywall_emulator.engine.product import Product, WorldError, WorldLoad
from paywall_emulator.engine.routing import Call, Reply, operation
from paywall_emulator.testing import ThreadedEmulator
from tests.worlds import bundled

OOPS = {"$ref": "#/components/schemas/Oops"}
SPEC = {
    "openapi": "3.1.0", "info": {"title": "notes", "version": "1"},
    "tags": [{"name": "notes"}],
    "paths": {"/notes/v1/notes/{noteId}": {"get": {
        "operationId": "getNote", "tags": ["notes"], "security": [],
        "parameters": [{"name": "noteId", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": "the note", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id", "text"], "additionalProperties": False,
                "properties": {"id": {"type": "string"}, "text": {"type": "string"}}}}}},
            **{status: {"description": status, "content": {"application/json": {"schema": OOPS}}}
               for status in ("400", "404", "500")},
        }}}},
    "components": {"schemas": {"Oops": {"type": "object", "required": ["oops"],
                                        "properties": {"oops": {"type": "string"}}}}},
}


@dataclass(slots=True, kw_only=True)
class Notes:
    rows: dict[str, str] = field(default_factory=dict)


def load(section: Mapping[str, Any] | None, load: WorldLoad) -> Notes:
    notes = (section or {}).get("notes", {})
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise WorldError("notes.notes must map note ids to texts")
    return Notes(rows=dict(notes))


handlers = types.ModuleType("notes_handlers")


@operation("getNote")
async def get_note(call: Call) -> Reply:
    note_id = call.path["noteId"]
    if note_id not in call.state.rows:
        raise NotFoundError(f"no note {note_id}")
    return Reply(body={"id": note_id, "text": call.state.rows[note_id]})


handlers.get_note = get_note  # type: ignore[attr-defined]
NOTES = Product(name="notes", title="Notes", spec="notes.openapi.yaml", handlers=(handlers,), load_world=load,
                render_error=lambda err: {"oops": err.message}, dump=lambda state, now, page: {"notes": [
                    {"id": k, "text": v} for k, v in page.rows(state.rows.items())]})


@pytest.fixture
def notes_spec(tmp_path: Path) -> Path:
    path = tmp_path / "notes.openapi.yaml"
    path.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    return path


def test_a_new_product_is_served_beside_monetize_with_its_own_world_section_and_errors(
        notes_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = tmp_path / "world.yaml"
    world.write_text(yaml.safe_dump({"monetize": bundled()["monetize"], "notes": {"notes": {"n1": "hello"}}}),
                     encoding="utf-8")
    config = EmulatorConfig(world=world, spec_overrides={"notes.openapi.yaml": notes_spec})
    monkeypatch.setattr(sys.modules["paywall_emulator.testing.harness"], "create_app",
                        lambda cfg: create_app(cfg, products=(*bundled_products(["monetize"]), NOTES)))
    with ThreadedEmulator(config) as emu:
        base = emu.base_url
        assert requests.get(f"{base}/notes/v1/notes/n1", timeout=10).json() == {"id": "n1", "text": "hello"}
        missing = requests.get(f"{base}/notes/v1/notes/n2", timeout=10)
        assert missing.status_code == 404 and missing.json() == {"oops": "no note n2"}
        assert requests.get(f"{base}/notes/v1/elsewhere", timeout=10).json()["oops"]  # its shape for misses
        assert requests.get(f"{base}/api/v1/paywall/3/bootstrap", timeout=10).status_code == 200
        assert emu.control.health()["products"] == ["monetize", "notes"]
        assert emu.control.state()["notes"] == {"notes": [{"id": "n1", "text": "hello"}]}
        emu.control.load_world({"notes": {"notes": {"n9": "loaded"}}})
        assert requests.get(f"{base}/notes/v1/notes/n9", timeout=10).status_code == 200
        assert emu.control.state()["monetize"]["paywalls"] == []  # a section left out is an empty world
        emu.restore()
        assert requests.get(f"{base}/notes/v1/notes/n1", timeout=10).status_code == 200


def test_a_product_whose_paths_collide_is_refused_at_startup(notes_spec: Path) -> None:
    clash = yaml.safe_load(notes_spec.read_text())
    clash["paths"]["/api/v1/paywall/{x}/bootstrap"] = clash["paths"].pop("/notes/v1/notes/{noteId}")
    clash["paths"]["/api/v1/paywall/{x}/bootstrap"]["get"]["parameters"][0]["name"] = "x"
    notes_spec.write_text(yaml.safe_dump(clash), encoding="utf-8")
    config = EmulatorConfig(spec_overrides={"notes.openapi.yaml": notes_spec})
    with pytest.raises(SpecError, match="collides"):
        create_app(config, products=(*bundled_products(["monetize"]), NOTES))


def test_the_engine_has_no_word_for_any_product() -> None:
    engine = Path(__file__).resolve().parent.parent / "emulator" / "engine"
    words = ("monetize", "paykit", "paywalls")
    found = [f"{p.name}:{n}" for p in engine.glob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
             if any(w in line.lower() for w in words)]
    assert found == []


