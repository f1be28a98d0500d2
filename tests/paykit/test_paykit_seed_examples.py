"""PayKit's documented REST examples, sent with `curl` to `paywall-emulator serve` in its own process: the
keys come from the banner `serve` prints, the base URL is the served origin's `/api/v1`, and every answer
is compared with the documented one, value for value. Two sources: the PayKit docs (seed 003: the
quickstart's meter call, then the REST reference's access, meter, 402, credits and checkout examples, which
run on from one another: 4, 4, 3, then 103 credits) and the curl block of docs/paykit.md (each command is
followed by a `# <answer>` line, run here and compared)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ..serving import serving, user_env

ROOT = Path(__file__).resolve().parents[2]
BANNER_PROJECT = re.compile(r"project (?P<id>\S+)\s+\(.*?\)\s+publishable (?P<pk>pk_\S+)\s+secret (?P<sk>sk_\S+)")


@dataclass(frozen=True)
class Served:
    origin: str
    banner: str

    @property
    def api(self) -> str:
        return f"{self.origin}/api/v1"

    def keys(self, project: str) -> tuple[str, str]:
        found = {m["id"]: (m["pk"], m["sk"]) for m in BANNER_PROJECT.finditer(self.banner)}
        assert project in found, self.banner
        return found[project]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`paywall-emulator serve --port P` with the bundled world, as a user starts it."""
    folder = tmp_path_factory.mktemp("serve")
    log = folder / "serve.log"
    with serving(log=log, cwd=folder, env=user_env("PAYKIT_")) as origin:
        yield Served(origin=origin, banner=log.read_text())


@pytest.fixture
def api(served: Served) -> Served:
    """The served emulator, back to its world file."""
    assert requests.post(f"{served.origin}/_emulator/reset", timeout=10).ok
    return served


def curl(*args: str) -> tuple[int, Any]:
    """Run curl; (status, JSON body, or the text when it is not JSON)."""
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True,
                          timeout=60, check=True)
    text, _, status = done.stdout.rpartition("\n")
    try:
        return int(status), json.loads(text)
    except ValueError:
        return int(status), text


def post(url: str, key: str | None, body: dict[str, Any]) -> tuple[int, Any]:
    headers = ["-H", f"x-paykit-key: {key}"] if key else []
    return curl("-X", "POST", url, *headers, "-H", "Content-Type: application/json", "-d", json.dumps(body))


def test_serve_prints_every_paykit_projects_keys(served: Served) -> None:
    assert served.keys("default") == ("pk_live_demo", "sk_live_demo")
    assert served.keys("proj_studio") == ("pk_live_studio_5f0c2a7d9e3b41c8", "sk_live_studio_8b1e6d4f2a9c07e53d6b")
    assert served.keys("proj_locked") == ("pk_live_locked_0e4b7c2d9f1a6358", "sk_live_locked_7c3a9e1f5d2b84060a1c")
    assert "secure metering" in next(ln for ln in served.banner.splitlines() if "proj_locked" in ln)


@pytest.mark.parametrize("project", ["default", "proj_studio"])
def test_the_seed_rest_examples_answer_as_documented(api: Served, project: str) -> None:
    """The demo project and a real one (its keys as `serve` printed them) answer the same documented
    sequence; `user_123` is a different account in each."""
    pk, sk = api.keys(project)
    # Quickstart, "any backend": meter from the server with the secret key
    assert post(f"{api.api}/meter", sk, {"userId": "user_123", "event": "image_gen"}) == (
        200, {"ok": True, "remaining": 4})
    # GET /access with the publishable key in the query
    assert curl(f"{api.api}/access?userId=user_123&key={pk}") == (
        200, {"userId": "user_123", "plan": "free", "credits": 4, "entitlements": []})
    # POST /meter with an explicit cost of 1
    assert post(f"{api.api}/meter", sk, {"userId": "user_123", "event": "image_gen", "cost": 1}) == (
        200, {"ok": True, "remaining": 3})
    # POST /credits: grant and upgrade, with the secret key
    assert post(f"{api.api}/credits", sk, {"userId": "user_123", "amount": 100, "plan": "pro"}) == (
        200, {"userId": "user_123", "plan": "pro", "credits": 103, "entitlements": ["pro"]})
    # POST /checkout with the publishable key in the body: a URL to a hosted (fake) Stripe Checkout page
    status, body = post(f"{api.api}/checkout", None, {"userId": "user_123", "kind": "pro", "key": pk})
    assert status == 200 and list(body) == ["url"]
    assert body["url"].startswith(f"{api.origin}/_emulator/paykit/checkout/cs_test_")
    page_status, page = curl(body["url"])
    assert page_status == 200 and "$19.00 USD" in page and "PayKit Pro" in page
    # the 402 of the REST reference: out of credits, nothing taken (the body adds PayKit's error sentence)
    assert post(f"{api.api}/meter", sk, {"userId": "user_456", "event": "image_gen", "cost": 5}) == (
        200, {"ok": True, "remaining": 0})
    status, blocked = post(f"{api.api}/meter", sk, {"userId": "user_456", "event": "image_gen", "cost": 1})
    assert (status, blocked) == (402, {"ok": False, "blocked": True, "remaining": 0, "error": "Insufficient credits"})
    assert curl(f"{api.api}/access?userId=user_456&key={pk}")[1]["credits"] == 0


def test_the_seed_error_examples_answer_as_documented(api: Served) -> None:
    """`/meter`'s listed errors (missing fields 400, invalid key 401, secret key required 403), an unknown key
    on `/access`, and `/credits` with a publishable key of a real project (403): each a plain `{error}`."""
    studio_pk, _ = api.keys("proj_studio")
    locked_pk, locked_sk = api.keys("proj_locked")
    assert post(f"{api.api}/meter", studio_pk, {"userId": "user_123"}) == (
        400, {"error": "userId and event are required"})
    assert post(f"{api.api}/meter", "pk_live_unknown", {"userId": "user_123", "event": "image_gen"}) == (
        401, {"error": "Invalid API key"})
    assert curl(f"{api.api}/access?userId=user_123&key=pk_live_unknown") == (401, {"error": "Invalid API key"})
    assert post(f"{api.api}/meter", locked_pk, {"userId": "user_123", "event": "image_gen"}) == (
        403, {"error": "This project requires the secret key to meter (server-side)"})
    assert post(f"{api.api}/credits", studio_pk, {"userId": "user_123", "amount": 100}) == (
        403, {"error": "Granting credits requires your secret key (server-side)"})
    # nothing of that changed a balance
    assert curl(f"{api.api}/access?userId=user_123&key={studio_pk}")[1]["credits"] == 5
    assert post(f"{api.api}/meter", locked_sk, {"userId": "user_123", "event": "image_gen"}) == (
        200, {"ok": True, "remaining": 4})


def test_the_seed_dashboard_and_project_examples(api: Served) -> None:
    """`/analytics` and `/accounts` scoped by the key with stats `{total, pro, mrr = pro × 19,
    creditsOutstanding}`; `POST /projects {name}` answers keys that work at once; `PATCH /projects
    {secureMetering, key: sk_…}` turns secure metering on."""
    pk, sk = api.keys("proj_studio")
    assert post(f"{api.api}/credits", sk, {"userId": "user_123", "amount": 100, "plan": "pro"})[0] == 200
    # the bundled world: alice (pro, 120), bob (free, 0); now user_123 (pro, 105)
    status, accounts = curl(f"{api.api}/accounts?key={pk}")
    assert status == 200 and accounts["stats"] == {"total": 3, "pro": 2, "mrr": 38, "creditsOutstanding": 225,
                                                   "free": 1}
    assert [a["userId"] for a in accounts["accounts"]] == ["alice", "bob", "user_123"]
    status, analytics = curl(f"{api.api}/analytics?key={sk}")
    assert status == 200 and analytics["stats"] == {"total": 3, "pro": 2, "mrr": 38, "creditsOutstanding": 225}
    assert analytics["creditsSoldThisMonth"] == 100 and analytics["revenueUsd"] == 9
    status, project = curl("-X", "POST", f"{api.api}/projects", "-H", "Content-Type: application/json",
                           "-d", '{"name": "My app"}')
    assert status == 200 and project["name"] == "My app" and project["secureMetering"] is False
    assert project["publishableKey"].startswith("pk_live_") and project["secretKey"].startswith("sk_live_")
    assert post(f"{api.api}/meter", project["publishableKey"], {"userId": "u", "event": "image_gen"}) == (
        200, {"ok": True, "remaining": 4})
    status, toggled = curl("-X", "PATCH", f"{api.api}/projects", "-H", "Content-Type: application/json",
                           "-d", json.dumps({"secureMetering": True, "key": project["secretKey"]}))
    assert (status, toggled) == (200, {"id": project["id"], "secureMetering": True})
    assert post(f"{api.api}/meter", project["publishableKey"], {"userId": "u", "event": "image_gen"})[0] == 403


def _docs_curl_block() -> list[tuple[str, str]]:
    """(command, the answer on the `# ` line after it) of the curl block on docs/paykit.md."""
    text = (ROOT / "docs" / "paykit.md").read_text(encoding="utf-8")
    block = text.split("**curl.**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    pairs = [(lines[i], lines[i + 1].removeprefix("# ")) for i in range(len(lines) - 1)
             if lines[i].startswith("curl") and lines[i + 1].startswith("# ")]
    assert len(pairs) == 4, block
    return pairs


def _matches(shown: Any, got: Any) -> bool:
    """Equal, where a shown string ending in `…` stands for any string with that start."""
    if isinstance(shown, str) and shown.endswith("…"):
        return isinstance(got, str) and got.startswith(shown[:-1])
    if isinstance(shown, dict):
        return isinstance(got, dict) and shown.keys() == got.keys() and all(_matches(v, got[k])
                                                                           for k, v in shown.items())
    return bool(shown == got)


def test_the_docs_page_curl_block_answers_what_it_shows(api: Served) -> None:
    setup = next(ln for ln in (ROOT / "docs" / "paykit.md").read_text(encoding="utf-8").splitlines()
                 if ln.startswith("B=http://127.0.0.1:8787/api/v1"))
    port = api.origin.rsplit(":", 1)[1]
    for command, shown in _docs_curl_block():
        script = f"{setup}\n{command} -sS".replace("8787", port)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60,
                              check=True)
        expected = json.loads(shown.replace("8787", port))
        assert _matches(expected, json.loads(done.stdout)), (command, shown, done.stdout)
