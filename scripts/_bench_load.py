"""Load generator for scripts/bench.py when `wrk` is not installed: its own process, aiohttp client.

`--connections` keep-alive connections each send requests back to back for `--duration` seconds
(after `--warmup` seconds whose answers are not counted); the request bodies given with `--body`
are sent in turn (credit, debit, credit, ...). Prints one JSON line: requests, non-2xx answers,
transport errors, requests/s and the p50/p99 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def drive(args: argparse.Namespace) -> dict[str, object]:
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    bodies = [b.encode() for b in args.body] or [None]
    latencies: list[float] = []
    counts = {"requests": 0, "non_2xx": 0, "errors": 0}
    turn = 0
    connector = aiohttp.TCPConnector(limit=args.connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal turn
        while True:
            body = bodies[turn % len(bodies)]
            turn += 1
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            try:
                async with session.request(args.method, args.url, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError):
                status = 0
            t1 = time.perf_counter()
            if t0 < measure_from or t1 > stop_at:
                continue
            counts["requests"] += 1
            latencies.append(t1 - t0)
            if status == 0:
                counts["errors"] += 1
            elif not 200 <= status < 300:
                counts["non_2xx"] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.connections)))
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {**counts, "duration": args.duration, "rps": counts["requests"] / args.duration,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "cpu_s": time.process_time()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[], help="Name: value (repeatable)")
    parser.add_argument("--body", action="append", default=[], help="a request body; several are sent in turn")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(drive(args))), flush=True)


if __name__ == "__main__":
    main()
