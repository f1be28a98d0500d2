"""The `serve` command: its defaults, the banner, and the origin on a wildcard host."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from paywall_emulator.cli import build_parser

from .serving import bundled_banner, free_port, start_serve, stop


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.checkout_urls) == ("127.0.0.1", 8787, "hosted")
    assert args.strict_responses is False  # development: a violation is a header and a log line
    assert build_parser().parse_args(["serve", "--strict-responses"]).strict_responses is True
    assert (args.world, args.id_seed) == (None, 0)


@pytest.fixture
def wildcard(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`serve --host 0.0.0.0` in its own process; (port, its output)."""
    port, out = free_port(), tmp_path / "serve.log"
    proc = start_serve("--host", "0.0.0.0", port=port, log=out, cwd=tmp_path)
    try:
        yield port, out
    finally:
        stop(proc)


def test_on_a_wildcard_host_urls_follow_the_request_host(wildcard: tuple[int, Path]) -> None:
    port, out = wildcard
    base = f"http://127.0.0.1:{port}"
    boot = requests.get(f"{base}/api/v1/paywall/3/bootstrap", headers={"Host": f"devbox.test:{port}"}, timeout=10)
    assert boot.status_code == 200 and boot.json()["settings"]["custom_domain"] == f"http://devbox.test:{port}"
    # Each origin has its own (memoised) guest answer.
    other = requests.get(f"{base}/api/v1/paywall/3/bootstrap", headers={"Host": f"lan.test:{port}"}, timeout=10)
    assert other.json()["settings"]["custom_domain"] == f"http://lan.test:{port}"
    checkout = requests.post(f"{base}/api/v1/paywall/3/start-checkout", headers={
        "Host": f"devbox.test:{port}", "X-Api-Key": "sk_emulator_acme_4f1c2d9e8b7a6c5d"},
        json={"email": "remote@example.com", "priceId": "102"}, timeout=10)
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["checkoutUrl"].startswith(f"http://devbox.test:{port}/_emulator/checkout/")
    banner = out.read_text()
    assert f"serving http://127.0.0.1:{port} (origin: each request's Host)" in banner
    assert "sk_emulator_acme_4f1c2d9e8b7a6c5d" in banner


def test_the_banner_gives_the_inspector_link_with_the_control_token() -> None:
    from paywall_emulator.cli import banner

    plain = banner("http://127.0.0.1:8787", "", [])
    assert plain[2] == "  inspector    http://127.0.0.1:8787/_emulator/"
    guarded = banner("http://127.0.0.1:8787", "", [], token="a b/c")
    assert guarded[1].endswith("(needs the X-Emulator-Token header)")
    assert guarded[2] == "  inspector    http://127.0.0.1:8787/_emulator/?token=a%20b%2Fc"


def test_the_banner_columns_line_up() -> None:
    """Each product's rows in the banner start every column at the same place, whatever the lengths of the
    ids, names and keys of the world."""
    lines = bundled_banner()

    def starts(prefix: str, words: tuple[str, ...]) -> set[tuple[int, ...]]:
        rows = [line for line in lines if line.startswith(prefix)]
        assert len(rows) >= 2, lines
        return {tuple(row.index(word) for word in words) for row in rows}

    monetize = [re.match(r"      paywall +\d+  (\w+) +(?:tokenized)? +(\w)", line) for line in lines
                if line.startswith("      paywall ")]
    assert len(monetize) == 7 and {(m.start(1), m.start(2)) for m in monetize if m} == {(20, 42)}, lines
    assert len(starts("    project ", ("(", "publishable ", "secret "))) == 1
    assert len(starts("    paywall pw_", ("base URL", "key "))) == 1
    modes = {re.match(r"    paywall \S+ +(\w)", line).start(1) for line in lines  # type: ignore[union-attr]
             if line.startswith("    paywall pw_")}
    assert len(modes) == 1
    locked = next(line for line in lines if "proj_locked" in line)
    assert locked.endswith("  secure metering")
    assert not any(line != line.rstrip() for line in lines)  # no trailing blanks where a cell is empty


def test_columns_pad_every_cell_but_the_last() -> None:
    from paywall_emulator.engine.product import columns

    assert columns([("a", "bb", "c"), ("ccc", "d", "")]) == ["  a    bb  c", "  ccc  d"]
    assert columns([]) == []
