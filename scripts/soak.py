#!/usr/bin/env python3
"""Soak: a dev server left running under steady traffic, its resident memory sampled as it goes.

Starts `paywall-emulator serve` (or drives `--url`) and, for `--minutes`, has `--workers` keep-alive
clients repeat one cycle: a monetize start-checkout with a fresh Idempotency-Key for one of `--users`
users in turn (0: a new user every cycle), every `--pay-every`-th checkout paid through the control API
(replacing that user's plan: a payment, a subscription, events and their webhook deliveries to a local
receiver that answers 200), a credit and a debit of 1 on the bundled tokenized paywall, a PayKit meter
and a Paywalls.ai deposit. Every `--advance-every` seconds the emulator clock moves one day (idempotency
records expire, open checkouts expire, subscriptions renew with more events). The history caps are
passed to `serve` (`--max-*`; small by default so that they are reached within minutes).

Every `--sample` seconds it prints the server's RSS with the checkouts started so far; at the end, the
series, the growth in the first and last thirds of the run with the growth per checkout in each, and a
verdict: "RSS plateaued" when the last third grew by at most 10% of the first third's growth (or under
4 MiB); else "history bounded" when the last third grew by no more than what its checkouts keep for good
(`--row-bytes`): users, links, subscriptions and payments are not history and grow with the traffic by
design (unpaid checkouts are capped like history), so this says nothing else grows with it; else "still
growing". The end state's `evicted` counts show the caps at work. Exits 0 unless the soak itself fails.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ACME_KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
JSON = {"Content-Type": "application/json"}
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


class Client:
    """One keep-alive connection; reconnects after a transport error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, body=data, headers={**JSON, **(headers or {})})
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            return 0, None
        return resp.status, json.loads(raw) if raw and resp.getheader("Content-Type", "").startswith(
            "application/json") else raw


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver that answers every POST with 200."""

    daemon_threads = True

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"


class Traffic:
    def __init__(self, host: str, port: int, pay_every: int, users: int) -> None:
        self.host, self.port, self.pay_every, self.users = host, port, pay_every, users
        self.lock = threading.Lock()
        self.counter = 0
        self.counts = {"checkouts": 0, "paid": 0, "failed": 0, "requests": 0}
        self.stop = threading.Event()

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def count(self, name: str, by: int = 1) -> None:
        with self.lock:
            self.counts[name] += by

    def worker(self) -> None:
        client = Client(self.host, self.port)
        while not self.stop.is_set():
            n = self.next_number()
            user = n % self.users if self.users else n
            status, answer = client.call("POST", "/api/v1/paywall/3/start-checkout",
                                         {"email": f"soak{user}@example.com", "priceId": "102",
                                          "ignoreActivePurchase": True},
                                         {"X-Api-Key": ACME_KEY, "Idempotency-Key": f"soak-{n}"})
            calls = [status]
            if status == 200:
                self.count("checkouts")
                if n % self.pay_every == 0:
                    session = str(answer["checkoutUrl"]).rsplit("/", 1)[-1].split("?")[0]
                    paid, _ = client.call("POST", f"/_emulator/checkouts/{session}/complete", {})
                    calls.append(paid)
                    self.count("paid", paid == 200)
            for op in ("credit", "debit"):
                calls.append(client.call("POST", "/api/v1/paywall/15/balances",
                                         {"email": "alice@example.com", "type": "standard", "amount": 1, "op": op},
                                         {"X-Api-Key": ACME_KEY})[0])
            calls.append(client.call("POST", "/api/v1/meter", {"userId": "soak", "event": "soak"},
                                     {"x-paykit-key": "sk_live_demo"})[0])
            calls.append(client.call("POST", "/v1/user/balance/deposit", {"user": "soak", "amount": "1"},
                                     {"Authorization": "Bearer sk-paywalls-v1-emulator-demo",
                                      "Idempotency-Key": f"soak-{n}"})[0])
            self.count("requests", len(calls))
            self.count("failed", sum(1 for c in calls if c not in (200, 204)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pay-every", type=int, default=10, help="pay every Nth checkout")
    parser.add_argument("--users", type=int, default=1000,
                        help="how many users the checkouts take turns on (0: a new user for every checkout)")
    parser.add_argument("--advance-every", type=float, default=60.0, help="seconds between one-day clock moves")
    parser.add_argument("--url", default=None, help="drive a running emulator instead (its pid via --pid)")
    parser.add_argument("--pid", type=int, default=None)
    parser.add_argument("--max", type=int, default=5000, help="every history cap given to serve (--max-*)")
    parser.add_argument("--row-bytes", type=int, default=2500,
                        help="what one checkout keeps for good (a paid one its subscription and payment; with "
                             "--users 0 its user and link too), in bytes: about 2,000 by scripts/bench.py --only scale")
    args = parser.parse_args(argv)
    proc = None
    if args.url is None:
        port = free_port()
        script = Path(sys.executable).parent / "paywall-emulator"
        cmd = [str(script)] if script.exists() else [sys.executable, "-m", "emulator"]
        cmd += ["serve", "--port", str(port), *[x for cap in ("events", "deliveries", "analytics", "ledger",
                                                                           "checkouts")
                                                 for x in (f"--max-{cap}", str(args.max))]]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        host, pid = "127.0.0.1", proc.pid
    else:
        parts = urlsplit(args.url)
        host, port, pid = parts.hostname or "127.0.0.1", parts.port or 80, args.pid
        if pid is None:
            parser.error("--url needs --pid (the server process whose RSS is sampled)")
    probe = Client(host, port)
    for _ in range(300):
        if probe.call("GET", "/_emulator/health")[0] == 200:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the emulator did not answer /_emulator/health")
    receiver = Receiver()
    status, _ = probe.call("POST", "/_emulator/webhooks/endpoints", {"url": receiver.url, "secret": "whsec_soak"})
    if status != 201:
        raise SystemExit(f"registering the webhook endpoint answered {status}")
    probe.call("POST", "/api/v1/credits", {"userId": "soak", "amount": 1_000_000}, {"x-paykit-key": "sk_live_demo"})
    traffic = Traffic(host, port, args.pay_every, args.users)
    threads = [threading.Thread(target=traffic.worker, daemon=True) for _ in range(args.workers)]
    started = time.perf_counter()
    samples: list[tuple[float, float, int]] = [(0.0, rss_mib(pid), 0)]
    print(f"soak: {args.minutes:g} min, {args.workers} workers, pid {pid}, caps {args.max}; "
          f"RSS {samples[0][1]:.1f} MiB", flush=True)
    for thread in threads:
        thread.start()
    next_advance = args.advance_every
    moves = 0
    try:
        while (elapsed := time.perf_counter() - started) < args.minutes * 60:
            time.sleep(min(args.sample, max(args.minutes * 60 - elapsed, 0.01)))
            elapsed = time.perf_counter() - started
            if elapsed >= next_advance:
                moved, _ = probe.call("POST", "/_emulator/clock/advance", {"days": 1})
                moves += moved == 200
                next_advance += args.advance_every
            samples.append((elapsed, rss_mib(pid), traffic.counts["checkouts"]))
            print(f"  {elapsed:6.0f} s  RSS {samples[-1][1]:7.1f} MiB  checkouts {samples[-1][2]:>7,}  "
                  f"requests {traffic.counts['requests']:>8,}  failed {traffic.counts['failed']}", flush=True)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=90)
    _, end_state = probe.call("GET", "/_emulator/state?limit=1")
    evicted = {name: end_state[name].get("evicted") for name in ("monetize", "paykit", "paywalls-ai")
               if isinstance(end_state, dict) and isinstance(end_state.get(name), dict)}
    if proc is not None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    receiver.shutdown()
    report(samples, traffic, moves, evicted, args.row_bytes)
    return 0


def report(samples: list[tuple[float, float, int]], traffic: Traffic, moves: int, evicted: dict[str, Any],
           row_bytes: int) -> None:
    third = max(len(samples) // 3, 1)
    first, last = samples[third], samples[-1]
    middle = samples[-1 - third]
    growth_first = first[1] - samples[0][1]
    growth_last = last[1] - middle[1]
    checkouts_first, checkouts_last = first[2], last[2] - middle[2]
    per_first = growth_first * 2**20 / checkouts_first if checkouts_first else 0.0
    per_last = growth_last * 2**20 / checkouts_last if checkouts_last else 0.0
    plateaued = growth_last <= max(0.1 * growth_first, 4.0)
    history_bounded = plateaued or per_last <= row_bytes
    print("\nseries (s, RSS MiB, checkouts): " + ", ".join(f"{t:.0f}:{r:.0f}:{c}" for t, r, c in samples))
    print(f"checkouts {traffic.counts['checkouts']:,} (paid {traffic.counts['paid']:,}), requests "
          f"{traffic.counts['requests']:,}, failed {traffic.counts['failed']:,}, one-day clock moves {moves}")
    print(f"RSS {samples[0][1]:.1f} → {last[1]:.1f} MiB; first third +{growth_first:.1f} MiB "
          f"({checkouts_first:,} checkouts: {per_first:,.0f} bytes each), last third +{growth_last:.1f} MiB "
          f"({checkouts_last:,} checkouts: {per_last:,.0f} bytes each)")
    print(f"evicted at the end: {json.dumps(evicted)}")
    if plateaued:
        print("verdict: RSS plateaued")
    elif history_bounded:
        print(f"verdict: history bounded: RSS grows only by what the fresh checkouts keep for good "
              f"({per_last:,.0f} ≤ {row_bytes:,} bytes per checkout in the last third)")
    else:
        print(f"verdict: still growing beyond the checkouts' own rows ({per_last:,.0f} > {row_bytes:,} bytes "
              "per checkout in the last third)")


if __name__ == "__main__":
    sys.exit(main())
