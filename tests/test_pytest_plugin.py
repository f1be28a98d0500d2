"""The pytest plugin seen from a downstream project (pytester, each run in its own interpreter) and the
public helpers of `paywall_emulator.testing` used outside pytest.

The downstream example (`billing.py` and its tests) is read from docs/pytest-plugin.md, so the guide
shows exactly what runs here."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from paywall_emulator.testing import ControlClient, ControlError, ThreadedEmulator, WebhookReceiver, verify_signature

pytest_plugins = ["pytester"]

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "pytest-plugin.md"

# Strict like this project's own configuration: unknown markers, unknown ini keys and warnings all fail.
INNER_INI = """\
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
"""

MY_WORLD = """\
monetize:
  owners:
    - id: own_solo
      name: Solo Dev
      api_keys: [sk_emulator_solo_00000000000000ff]
  paywalls:
    - id: "900"
      owner: own_solo
      name: Solo Pro
      acquirer: stripe
      test_mode: true
      prices:
        - {id: "9001", currency: USD, amount: 5.0, interval: month, interval_count: 1, label: Monthly}
"""


def readme_files() -> dict[str, str]:
    """The Python blocks of the pytest guide that open with `# <file>.py`, except its settings examples
    (test_settings.py asks for emulators of other configurations; tests/test_docs.py runs it)."""
    section = GUIDE.read_text(encoding="utf-8")
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        first, _, rest = block.partition("\n")
        if (match := re.fullmatch(r"# (\w+\.py)", first.strip())) and match.group(1) != "test_settings.py":
            files[match.group(1)] = rest
    return files


def downstream(pytester: pytest.Pytester, **files: str) -> None:
    """A downstream project: the guide's app and tests, a strict ini, and `files` (name → source)."""
    pytester.makefile(".ini", pytest=INNER_INI)
    for name, source in readme_files().items():
        pytester.path.joinpath(name).write_text(source, encoding="utf-8")
    for name, source in files.items():
        pytester.path.joinpath(name).write_text(source, encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A pytest session of the downstream project in its own interpreter (the tests that call it are slow)."""
    return pytester.runpytest_subprocess("-p", "no:randomly", *args, timeout=180)


# --- downstream projects ------------------------------------------------------------------------------

ISOLATION = '''
import time

import pytest
import requests
from billing import Billing

# Under `--dist loadgroup` both tests run on one xdist worker, one after the other on its emulator.
pytestmark = pytest.mark.xdist_group("isolation")


def user_status(emulator, email):
    response = requests.get(emulator.url("/api/v1/paywall/3/user"), params={"email": email},
                            headers={"X-Api-Key": emulator.api_key}, timeout=10)
    return response.status_code, None if response.ok else response.json()["code"]


def leave_traces(paywall_emulator, paywall_webhooks, paywall_clock):
    # what a previous test left behind must be gone
    assert user_status(paywall_emulator, "iso@example.com") == (404, "identity_not_found")
    assert not paywall_clock.frozen
    assert abs(paywall_clock.now().timestamp() - time.time()) < 3600  # not a year ahead
    assert paywall_webhooks.received == []
    assert len(paywall_emulator.control.webhook_endpoints()) == 1
    # and leave some: a user, a paid subscription, a clock a year ahead and frozen
    billing = Billing(paywall_emulator.base_url, paywall_emulator.api_key)
    paywall_emulator.control.complete_checkout(billing.start_checkout("3", "iso@example.com", "102"))
    paywall_webhooks.wait_for("subscription.created")
    paywall_clock.advance(days=400)
    paywall_clock.freeze()
    assert user_status(paywall_emulator, "iso@example.com") == (200, None)


def test_a(paywall_emulator, paywall_webhooks, paywall_clock):
    leave_traces(paywall_emulator, paywall_webhooks, paywall_clock)


def test_b(paywall_emulator, paywall_webhooks, paywall_clock):
    leave_traces(paywall_emulator, paywall_webhooks, paywall_clock)
'''

RECORD_EMULATORS = '''
import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def record_the_emulator(request):
    if "paywall_emulator" in request.fixturenames:
        url = request.getfixturevalue("paywall_emulator").base_url
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(f"emulators-{worker}.txt", "a") as out:
            out.write(f"{request.node.nodeid} {url}\\n")
'''


FROZEN_RENEWAL = '''
from datetime import UTC, datetime

from billing import Billing
from freezegun import freeze_time


def test_a_renewal_at_the_frozen_time(paywall_emulator, paywall_webhooks, paywall_clock):
    billing = Billing(paywall_emulator.base_url, paywall_emulator.api_key)
    with freeze_time("2031-05-01 12:00:00", real_asyncio=True) as frozen:  # ahead of the emulator clock
        assert paywall_clock.now() == datetime(2031, 5, 1, 12, tzinfo=UTC)
        paywall_emulator.control.complete_checkout(billing.start_checkout("7", "frozen@example.com", "201"))
        created = paywall_webhooks.wait_for("subscription.created")
        assert created.data["subscription"]["current_period_end"] == "2031-06-01T12:00:00.000Z"
        frozen.move_to("2031-06-01 12:00:01")
        assert billing.has_access("7", "frozen@example.com")  # any request runs what fell due
        def mine(event):
            return event.data["user"]["email"] == "frozen@example.com"

        renewal = paywall_webhooks.wait_for_count("payment.completed", 2, where=mine)[1]
        assert renewal.created_at == datetime(2031, 6, 1, 12, tzinfo=UTC)
        assert renewal.data["subscription"]["current_period_end"] == "2031-07-01T12:00:00.000Z"


def test_the_next_test_is_back_on_wall_time(paywall_clock):
    import time
    assert abs(paywall_clock.now().timestamp() - time.time()) < 3600
'''


@pytest.mark.slow
def test_the_readme_example_runs_as_shown(pytester: pytest.Pytester) -> None:
    """The README's app and tests: checkout -> control client pays -> signed subscription.created ->
    access (the 10-line test); time travel through a renewal and a period-end cancellation; freezegun and
    the daily top-up; the aiohttp_client variant. Plus a renewal under freezegun, and two tests that each
    find the world clean whatever the other left (one session, one emulator: state never reaches the next
    test)."""
    files = readme_files()
    assert {"billing.py", "test_billing.py", "test_time_travel.py", "test_frozen.py", "test_async.py"} <= set(files)
    assert len(files["test_billing.py"].strip().splitlines()) <= 14  # an import, a signature and ten lines
    # The app under test talks to the API with `requests`, which the downstream project installs itself.
    assert "import requests" in files["billing.py"] and "urllib" not in files["billing.py"]
    assert "pip install paywall-emulator requests" in GUIDE.read_text(encoding="utf-8")
    downstream(pytester, **{"test_frozen_renewal.py": FROZEN_RENEWAL, "test_isolation.py": ISOLATION})
    result = run(pytester, "-v")
    result.assert_outcomes(passed=len(readme_tests()) + 4)
    result.stdout.fnmatch_lines_random([
        "*test_billing.py::test_a_paid_checkout_grants_access PASSED*",
        "*test_time_travel.py::test_renewal_then_cancellation_at_period_end PASSED*",
        "*test_frozen.py::test_the_daily_top_up_at_frozen_midnight PASSED*",
        "*test_async.py::test_bootstrap PASSED*",
        "*test_frozen_renewal.py::test_a_renewal_at_the_frozen_time PASSED*",
        "*test_frozen_renewal.py::test_the_next_test_is_back_on_wall_time PASSED*",
        "*test_isolation.py::test_a PASSED*",
        "*test_isolation.py::test_b PASSED*",
    ])


@pytest.mark.slow
def test_parallel_workers_have_one_emulator_each(pytester: pytest.Pytester) -> None:
    """`-n 2`: each worker has its own emulator, and the two isolation tests share one worker (their
    xdist_group), so the second sees the reset after the first on the same emulator."""
    downstream(pytester, **{"test_isolation.py": ISOLATION, "conftest.py": RECORD_EMULATORS})
    result = run(pytester, "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=len(readme_tests()) + 2)
    ran = {path.name.removeprefix("emulators-").removesuffix(".txt"):
           dict(line.rsplit(" ", 1) for line in path.read_text().splitlines())
           for path in pytester.path.glob("emulators-*.txt")}  # worker -> {test node id: emulator URL}
    assert sorted(ran) == ["gw0", "gw1"]  # both workers ran emulator tests
    urls = {worker: set(tests.values()) for worker, tests in ran.items()}
    assert all(len(found) == 1 for found in urls.values())  # one emulator per worker, reused by its tests
    assert urls["gw0"] != urls["gw1"]
    isolation = {"test_isolation.py::test_a", "test_isolation.py::test_b"}
    [worker] = [w for w, tests in ran.items() if isolation & {node.split("@", 1)[0] for node in tests}]
    assert isolation <= {node.split("@", 1)[0] for node in ran[worker]}  # both on that one worker


def readme_tests() -> list[str]:
    return [name for source in readme_files().values()
            for name in re.findall(r"^(?:async )?def (test_\w+)", source, flags=re.M)]


WORLDS_AND_SETTINGS = '''
from datetime import UTC, datetime, timedelta

import pytest
from billing import Billing


@pytest.mark.paywall_world("my_world.yaml")
def test_my_world(paywall_emulator):
    assert dict(paywall_emulator.paywalls) == {"Solo Pro": "900"}
    assert paywall_emulator.api_key == "sk_emulator_solo_00000000000000ff"
    billing = Billing(paywall_emulator.base_url, paywall_emulator.api_key)
    paywall_emulator.control.complete_checkout(billing.start_checkout("900", "solo@example.com", "9001"))
    assert billing.has_access("900", "solo@example.com")


def test_the_bundled_world_otherwise(paywall_emulator):
    assert paywall_emulator.paywalls["Upgrade to Pro"] == "3"
    assert "Solo Pro" not in paywall_emulator.paywalls


@pytest.mark.paywall_config(start_time="2031-02-03T04:05:06Z")
def test_a_frozen_start(paywall_emulator, paywall_clock):
    start = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert paywall_clock.now() == start and paywall_clock.frozen
    paywall_clock.advance(days=1)
    assert paywall_clock.now() == start + timedelta(days=1)


@pytest.mark.paywall_config(checkout_urls="acquirer")
def test_acquirer_shaped_urls(paywall_emulator, paywall_webhooks):
    url = Billing(paywall_emulator.base_url, paywall_emulator.api_key).start_checkout("3", "a@example.com", "102")
    assert url.startswith("https://checkout.stripe.com/")
    paywall_emulator.control.complete_checkout(url)
    assert paywall_webhooks.wait_for("subscription.created").data["user"]["email"] == "a@example.com"
'''

FROM_THE_COMMAND_LINE = '''
from datetime import UTC, datetime

from billing import Billing


def test_options(paywall_emulator, paywall_clock):
    assert dict(paywall_emulator.paywalls) == {"Solo Pro": "900"}
    assert paywall_clock.now() == datetime(2030, 1, 1, tzinfo=UTC)
    url = Billing(paywall_emulator.base_url, paywall_emulator.api_key).start_checkout("900", "o@example.com", "9001")
    assert url.startswith("https://checkout.stripe.com/")
'''


@pytest.mark.slow
def test_options_choose_them_for_the_session(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"my_world.yaml": MY_WORLD, "test_options.py": FROM_THE_COMMAND_LINE})
    result = run(pytester, "test_options.py", "--paywall-world", "my_world.yaml",
                 "--paywall-start-time", "2030-01-01T00:00:00Z", "--paywall-checkout-urls", "acquirer")
    result.assert_outcomes(passed=1)


BAD_WORLDS = '''
import pytest


@pytest.mark.paywall_world("no_such_world.yaml")
def test_missing_world(paywall_emulator):
    pass


@pytest.mark.paywall_world("broken_world.yaml")
def test_broken_world(paywall_emulator):
    pass


@pytest.mark.paywall_world("broken_world.yaml")
def test_broken_world_again(paywall_emulator):
    pass


@pytest.mark.paywall_config(checkout_urls="carrier-pigeon")
def test_bad_config(paywall_emulator):
    pass


def test_unaffected(paywall_emulator):
    assert paywall_emulator.paywalls["Upgrade to Pro"] == "3"
'''


@pytest.mark.slow
def test_markers_choose_the_world_start_time_and_checkout_urls(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"my_world.yaml": MY_WORLD, "test_settings.py": WORLDS_AND_SETTINGS,
                            "test_bad.py": BAD_WORLDS,
                            "broken_world.yaml": "monetize:\n  owners: [{id: 7}]\n  paywalls: 3\n"})
    result = run(pytester, "test_settings.py", "test_bad.py")
    # a bad world file or setting fails the tests that ask for it, with the reason, and nothing else
    result.assert_outcomes(passed=5, errors=4)
    result.stdout.fnmatch_lines_random([
        "*paywall_world: no world file 'no_such_world.yaml'*",
        "*paywall_emulator did not start (world=*broken_world.yaml*",
        "*paywall_config: checkout URLs must be one of hosted, acquirer, got 'carrier-pigeon'*",
    ])


@pytest.mark.parametrize(("option", "message"), [
    (["--paywall-world", "nowhere.yaml"], "*paywall-emulator: no world file *nowhere.yaml*"),
    (["--paywall-start-time", "next tuesday"], "*paywall-emulator: start time must be an ISO 8601 instant*"),
    (["--paywall-products", "monetize,shop"], "*paywall-emulator: 'shop' is not a bundled product*"),
])
def test_bad_options_stop_the_session(pytester: pytest.Pytester, option: list[str], message: str) -> None:
    downstream(pytester)
    # Stopped while configuring, before any test or emulator: in this process, no interpreter to start.
    result = pytester.runpytest_inprocess("-p", "no:randomly", "test_billing.py", *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


ONE_PRODUCT = '''
import requests


def test_only_paykit(paywall_emulator):
    assert paywall_emulator.control.health()["products"] == ["paykit"]
    meter = requests.post(paywall_emulator.url("/api/v1/meter"), json={"userId": "u", "event": "e"}, timeout=10)
    assert meter.status_code == 200 and meter.json() == {"ok": True, "remaining": 4}
'''


@pytest.mark.slow
def test_the_products_option_serves_a_subset(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"test_one_product.py": ONE_PRODUCT})
    run(pytester, "test_one_product.py", "--paywall-products", "paykit").assert_outcomes(passed=1)


PLUGIN_OFF = '''
import sys


def test_runs_without_the_plugin():
    assert "paywall_emulator.pytest_plugin" not in sys.modules
    assert "emulator" not in sys.modules


def test_fixture_unknown(paywall_emulator):
    pass
'''

UNUSED = '''
import sys
import threading

import pytest


def test_plain(request):
    # The plugin adds no autouse fixture: a plain test gets no paywall_* fixture behind its back.
    assert not [name for name in request.fixturenames if name.startswith("paywall_")]


@pytest.mark.paywall_world("no_such_world.yaml")  # a marker alone starts nothing either
def test_marked_but_no_fixture():
    pass


def test_last_nothing_started():
    assert "paywall_emulator.pytest_plugin" in sys.modules
    assert "aiohttp" not in sys.modules  # importing the plugin did not import it
    assert "paywall_emulator.testing" not in sys.modules and "paywall_emulator.app" not in sys.modules
    assert not [t.name for t in threading.enumerate() if t.name.startswith("paywall-")]
'''


@pytest.mark.slow
def test_plugin_switched_off(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"test_off.py": PLUGIN_OFF})
    result = run(pytester, "test_off.py", "-p", "no:paywall_emulator")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'paywall_emulator' not found*"])


@pytest.mark.slow
def test_a_session_without_paywall_fixtures_starts_nothing(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    downstream(pytester, **{"test_unused.py": UNUSED})
    # Other installed plugins (pytest-aiohttp) import aiohttp themselves: load this one alone.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = run(pytester, "test_unused.py", "-p", "paywall_emulator.pytest_plugin")
    result.assert_outcomes(passed=3)


def test_importing_the_plugin_is_cheap() -> None:
    heavy = ("{'aiohttp', 'yaml', 'jsonschema', 'jsonschema_rs', 'paywall_emulator.app', 'paywall_emulator.testing', "
             "'paywall_emulator.engine.world'}")
    code = f"import sys, paywall_emulator.pytest_plugin; print(sorted({heavy} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


# --- emulator.testing outside pytest ------------------------------------------------------------------


def test_threaded_emulator_is_a_context_manager() -> None:
    others = set(threading.enumerate())  # e.g. the session emulator of other tests in this worker
    with ThreadedEmulator() as emu:
        assert emu.control.health()
        assert emu.paywalls["Upgrade to Pro"] == "3"
        threads = [t for t in threading.enumerate() if t.name == "paywall-emulator" and t not in others]
        assert len(threads) == 1
        url = emu.base_url
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/_emulator/health", timeout=5)
    emu.stop()  # idempotent


def signed(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature": digest, "X-Monetize-Signature": f"sha256={digest}"}


def test_verify_signature_accepts_either_documented_recipe() -> None:
    body = b'{"id":"evt_1","type":"payment.completed","created_at":"2030-01-01T00:00:00.000Z","data":{}}'
    both = signed("whsec_x", body)
    assert verify_signature("whsec_x", body, both)
    assert verify_signature("whsec_x", body, {"x-signature": both["X-Signature"]})  # the headless guide
    assert verify_signature("whsec_x", body, {"X-Monetize-Signature": both["X-Monetize-Signature"]})  # webhooks docs
    assert not verify_signature("whsec_x", body, {})
    assert not verify_signature("whsec_other", body, both)
    assert not verify_signature("whsec_x", body + b" ", both)
    assert not verify_signature("whsec_x", body, {**both, "X-Monetize-Signature": "sha256=" + "0" * 64})
    assert not verify_signature("whsec_x", body, {"X-Monetize-Signature": both["X-Signature"]})  # no sha256=
    assert not verify_signature("whsec_x", body, {"X-Signature": both["X-Signature"]}, require="both")
    assert verify_signature("whsec_x", body, both, require="both")


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret="whsec_receiver") as hooks:
        yield hooks


def test_webhook_receiver_rejects_a_bad_signature(receiver: WebhookReceiver) -> None:
    body = json.dumps({"id": "evt_1", "type": "payment.completed", "created_at": "2030-01-01T00:00:00.000Z",
                       "data": {}}).encode()
    assert post(receiver.url, body, signed("whsec_wrong", body)) == 401
    assert post(receiver.url, body, {}) == 401
    assert post(receiver.url, b"[]", signed("whsec_receiver", b"[]")) == 400
    assert [reason for reason, _, _ in receiver.rejected] == [
        "bad or missing signature", "bad or missing signature", "not a webhook envelope"]
    assert receiver.received == []
    with pytest.raises(TimeoutError, match="rejected"):
        receiver.wait_for("payment.completed", timeout=0.1)

    assert post(receiver.url, body, signed("whsec_receiver", body)) == 200
    assert receiver.wait_for("payment.completed").id == "evt_1"
    old = receiver.url
    receiver.rotate()
    assert post(old, body, signed("whsec_receiver", body)) == 410
    assert receiver.received == [] and receiver.rejected == []


def test_webhook_receiver_sees_emulator_deliveries(receiver: WebhookReceiver) -> None:
    with ThreadedEmulator() as emu:
        endpoint = receiver.register(emu.control, events=["payment.completed"])
        assert endpoint["secret"] == "whsec_receiver"
        alice_sub = "sub_seedAlicePro000000000001"
        emu.control.renew_subscription(alice_sub)
        hook = receiver.wait_for("payment.completed")
        assert hook.data["subscription"]["id"] == alice_sub
        assert hook.delivery_id in {d["id"] for d in emu.control.deliveries(type="payment.completed")}


def test_control_errors_carry_status_and_code() -> None:
    with ThreadedEmulator() as emu:
        with pytest.raises(ControlError) as missing:
            emu.control.complete_checkout("cs_test_nobody")
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(ControlError) as backwards:
            ControlClient(emu.base_url).clock.set("2001-01-01T00:00:00Z")
        assert (backwards.value.status, backwards.value.code) == (409, "clock_backwards")
        assert backwards.value.body["message"]
