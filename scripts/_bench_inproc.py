"""In-process figures for scripts/bench.py, measured in a fresh process of their own.

- the import of `emulator.app` (what a process pays once, before any start);
- an in-process start: `create_app` (both specs loaded, validators compiled, seed applied), an
  `AppRunner` + `TCPSite` on port 0, and the first answered GET bootstrap — then the stop; the first
  start in the process (what a pytest session pays) and the median of the following ones, against a
  bare aiohttp app's start/first response/stop cycle measured the same way in the same process;
- `World.reset()` with the loaded seed, `--resets` times;
- `emulator.testing.ThreadedEmulator` start and stop, and its `reset()` (the `paywall_emulator`
  fixture's per-test reset: `World.reset()` run on the server's loop thread), `--resets` times.
Prints one JSON line (seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable

T0 = time.perf_counter()
import aiohttp  # noqa: E402  (timed: aiohttp alone, then what the emulator adds)
from aiohttp import web  # noqa: E402

T1 = time.perf_counter()
from paywall_emulator.app import create_app  # noqa: E402
from paywall_emulator.config import EmulatorConfig  # noqa: E402
from paywall_emulator.engine.keys import WORLD_KEY  # noqa: E402
from paywall_emulator.testing import ThreadedEmulator  # noqa: E402

T2 = time.perf_counter()

BOOTSTRAP = "/api/v1/paywall/3/bootstrap"


def bare_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get(BOOTSTRAP.replace("3", "{id}"), hello)
    return app


async def cycle(make: Callable[[], web.Application], session: aiohttp.ClientSession) -> tuple[float, float, float]:
    """(build app, start → first 200, full cycle incl. stop) in seconds."""
    t0 = time.perf_counter()
    app = make()
    t1 = time.perf_counter()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with session.get(f"http://127.0.0.1:{port}{BOOTSTRAP}") as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"first GET answered {resp.status}")
    t2 = time.perf_counter()
    await runner.cleanup()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t0, t3 - t0


async def starts(emulator_runs: int, bare_runs: int) -> dict[str, object]:
    out: dict[str, object] = {}
    async with aiohttp.ClientSession() as session:
        await cycle(bare_app, session)  # warm the client and the loop once, with the cheap app
        for name, make, runs in (("emulator", lambda: create_app(EmulatorConfig()), emulator_runs),
                                 ("bare", bare_app, bare_runs)):
            results = [await cycle(make, session) for _ in range(runs)]
            rest = results[1:] or results
            out[name] = {
                "first_build": results[0][0], "first_start": results[0][1], "first_cycle": results[0][2],
                "build": statistics.median(r[0] for r in rest), "start": statistics.median(r[1] for r in rest),
                "cycle": statistics.median(r[2] for r in rest), "runs": runs,
            }
    return out


def resets(count: int) -> dict[str, float]:
    world = create_app(EmulatorConfig())[WORLD_KEY]
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        world.reset()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"median": statistics.median(times), "p90": times[int(0.9 * (len(times) - 1))], "runs": count}


def threaded(count: int, resets: int) -> dict[str, float]:
    start, stop, fixture_resets = [], [], []
    for run in range(count):
        t0 = time.perf_counter()
        emu = ThreadedEmulator().start()
        t1 = time.perf_counter()
        if run == 0:  # what the paywall_emulator fixture does before each test (a call into the loop thread)
            for _ in range(resets):
                r0 = time.perf_counter()
                emu.reset()
                fixture_resets.append(time.perf_counter() - r0)
        t2 = time.perf_counter()
        emu.stop()
        t3 = time.perf_counter()
        start.append(t1 - t0)
        stop.append(t3 - t2)
    return {"start": statistics.median(start), "stop": statistics.median(stop), "first_start": start[0],
            "runs": count, "fixture_reset": statistics.median(fixture_resets), "fixture_resets": resets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=6, help="in-process emulator starts (first + median of rest)")
    parser.add_argument("--bare-starts", type=int, default=30)
    parser.add_argument("--resets", type=int, default=200)
    parser.add_argument("--threaded", type=int, default=5)
    parser.add_argument("--what", default="start,reset,threaded")
    args = parser.parse_args()
    what = set(args.what.split(","))
    out: dict[str, object] = {"import_aiohttp": T1 - T0, "import_emulator": T2 - T1}
    if "start" in what:
        out["start"] = asyncio.run(starts(args.starts, args.bare_starts))
    if "reset" in what:
        out["reset"] = resets(args.resets)
    if "threaded" in what:
        out["threaded"] = threaded(args.threaded, args.resets)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
