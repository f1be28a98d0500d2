"""World files: the YAML document that fills an emulator, one top-level section per product, and the
data files shipped with the package (specs, the bundled world). Reading only: each product validates
and loads its own section. No aiohttp.
"""

from __future__ import annotations

import importlib.resources
import re
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
    """The document in the world file at `path`; a WorldError in one line (naming `file:line:column` for
    YAML that does not parse) when there is none."""
    try:
        doc = read_yaml_file(path)
    except FileNotFoundError as exc:
        raise WorldError(f"world file {path} does not exist") from exc
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror or exc}") from exc
    except YamlError as exc:
        where = f"{path}:{exc.line}:{exc.column}" if exc.line is not None else str(path)
        raise WorldError(f"{where}: not valid YAML: {exc.problem}") from exc
    if not isinstance(doc, dict):
        raise WorldError(f"world file {path} must be a mapping with one section per product, keyed by its name")
    try:
        checked: WorldDocument = sanitised(doc, str(path))
    except BadRequestError as exc:
        raise WorldError(exc.message) from None
    return checked


# A product's WorldError names the offending entry first, as a path into its section:
# `items[1]: unknown parent 'x'`, `items[0].parts[2]: ...`.
_WHERE = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\])*(?:\.[A-Za-z_][\w-]*(?:\[\d+\])*)*): ")
_STEP = re.compile(r"([A-Za-z_][\w-]*)|\[(\d+)\]")


def describe_world_error(path: Path, error: WorldError) -> str:
    """`error` from loading the world file at `path`, in one line naming the file, and the line of the
    entry it is about when the message names one (`world.yaml:14: <product>.items[1]: unknown parent`)."""
    message = str(error)
    if str(path) in message:  # read_world's own errors name the file already
        return message
    steps = _steps(message)
    line = locate(path, [error.section, *steps] if error.section else steps)
    place = f"{path}:{line}" if line else str(path)
    if error.section is None:
        return f"{place}: {message}"
    return f"{place}: {error.section}{'.' if steps else ': '}{message}"


def _steps(message: str) -> list[str | int]:
    found = _WHERE.match(message)
    if not found:
        return []
    return [name if name else int(index) for name, index in _STEP.findall(found.group(1))]


def locate(path: Path, steps: list[str | int]) -> int | None:
    """The 1-based line in the YAML file at `path` of the entry `steps` leads to (mapping keys and list
    indexes; the deepest one that exists), or None when the file cannot be read again."""
    import yaml

    try:
        node: Any = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for step in steps:
        if isinstance(step, str) and isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step]
            if not match:
                break
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif isinstance(step, int) and isinstance(node, yaml.SequenceNode) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line
