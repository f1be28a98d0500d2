"""The pytest plugin seen from a downstream project (pytester, each run in its own interpreter) and the
public helpers of `emulator.testing` used outside pytest.

The downstream example (`billing.py` and its tests) is read from README.md's "Testing your integration"
section, so the README shows exactly what runs here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"

# Strict like this project's own configuration: unknown markers, unknown ini keys and warnings all fail.
INNER_INI = """\
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
"""

MY_SEED = """\
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
    """The Python blocks of the README's "Testing your integration" section that open with `# <file>.py`."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Testing your integration", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        first, _, rest = block.partition("\n")
        if match := re.fullmatch(r"# (\w+\.py)", first.strip()):
            files[match.group(1)] = rest
    return files


def downstream(pytester: pytest.Pytester, **files: str) -> None:
    """A downstream project: the README's app and tests, a strict ini, and `files` (name → source)."""
    pytester.makefile(".ini", pytest=INNER_INI)
    for name, source in readme_files().items():
        pytester.path.joinpath(name).write_text(source, encoding="utf-8")
    for name, source in files.items():
        pytester.path.joinpath(name).write_text(source, encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args, timeout=180)


# --- downstream projects ------------------------------------------------------------------------------

ISOLATION = '''
import time
import urllib.error
import urllib.request

import pytest
from billing import Billing


def user_status(emulator, email):
    request = urllib.request.Request(emulator.url(f"/api/v1/paywall/3/user?email={email}"),
                                     headers={"X-Api-Key": emulator.api_key})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        import json
        return error.code, json.load(error)["code"]


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
            out.write(url + "\\n")
'''


def test_readme_example_checkout_webhook_and_access(pytester: pytest.Pytester) -> None:
    files = readme_files()
    assert {"billing.py", "test_billing.py", "test_time_travel.py", "test_frozen.py", "test_async.py"} <= set(files)
    test_billing = files["test_billing.py"]
    assert len(test_billing.strip().splitlines()) <= 14  # the import, the signature and ten lines
    downstream(pytester)
    result = run(pytester, "test_billing.py", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_billing.py::test_a_paid_checkout_grants_access PASSED*"])


def test_time_travel_renews_and_ends_a_cancelled_subscription(pytester: pytest.Pytester) -> None:
    downstream(pytester)
    result = run(pytester, "test_time_travel.py")
    result.assert_outcomes(passed=1)


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


def test_freezegun_moves_the_emulator_clock(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"test_frozen_renewal.py": FROZEN_RENEWAL})
    result = run(pytester, "test_frozen.py", "test_frozen_renewal.py")
    result.assert_outcomes(passed=3)


def test_state_of_one_test_never_reaches_the_next(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"test_isolation.py": ISOLATION})
    result = run(pytester, "test_isolation.py", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_a PASSED*", "*test_b PASSED*"])


def test_parallel_workers_have_one_emulator_each(pytester: pytest.Pytester) -> None:
    downstream(pytester, **{"test_isolation.py": ISOLATION, "conftest.py": RECORD_EMULATORS})
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=len(readme_tests()) + 2)
    seen = {path.name: set(path.read_text().split()) for path in pytester.path.glob("emulators-*.txt")}
    assert sorted(seen) == ["emulators-gw0.txt", "emulators-gw1.txt"]
    assert all(len(urls) == 1 for urls in seen.values())  # one emulator per worker, reused by its tests
    assert seen["emulators-gw0.txt"] != seen["emulators-gw1.txt"]


def readme_tests() -> list[str]:
    return [name for source in readme_files().values()
            for name in re.findall(r"^(?:async )?def (test_\w+)", source, flags=re.M)]
