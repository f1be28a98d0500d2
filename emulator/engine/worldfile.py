"""World files: the YAML document that fills an emulator, one top-level section per product, and the
data files shipped with the package (specs, the bundled world). Reading only: each product validates
and loads its own section. No aiohttp.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from .errors import BadRequestError
from .product import WorldError
from .values import sanitised
from .yamlfile import YamlError, read_yaml_file

WorldDocument = dict[str, Any]
_PACKAGE = __name__.split(".")[0]  # the installed import name (paywall_emulator) or the repo's folder


def data_path(*parts: str) -> Path:
    """A file shipped with the package (`<package>/_data/...` in a wheel, the repository in a checkout)."""
    packaged = importlib.resources.files(_PACKAGE).joinpath("_data", *parts)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2].joinpath(*parts)


def default_world() -> Path:
    return data_path("fixtures", "default.yaml")


def read_world(path: Path) -> WorldDocument:
    try:
        doc = read_yaml_file(path)
    except (OSError, YamlError) as exc:
        raise WorldError(f"cannot read world file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise WorldError(f"world file {path} must be a mapping of product sections")
    try:
        checked: WorldDocument = sanitised(doc, str(path))
    except BadRequestError as exc:
        raise WorldError(exc.message) from None
    return checked
