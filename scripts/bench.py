#!/usr/bin/env python3
"""Benchmark of paywall-emulator against bare aiohttp, all ratios measured in one run.

Sections (`--only`, comma-separated; default all):
- startup:   launch → first 200 of `paywall-emulator serve` (every product, and `--products monetize`)
             vs a bare aiohttp process (median of `--launches` each, interleaved); target ≤ 1.3×. Beside
             it, the CPU the server had used by then (steadier than wall time on a shared machine).
- bootstrap: GET /api/v1/paywall/3/bootstrap on `serve` vs a bare aiohttp app answering the same
             bytes; requests/s, p50/p99; target ≥ 0.6×.
- debit:     POST /api/v1/paywall/15/balances, credit/debit pairs of 1 for alice, vs a bare aiohttp
             POST handler (parse JSON, answer JSON); target ≥ 0.5×.
- gateway:   POST /api/v1/api-gateway/{provider}/v1/chat/completions?paywall_id=15 (each answer
             debits 1) vs the same fake provider served bare; ratio only (the section is skipped only
             on an old build whose gateway still answers 501 not_implemented).
- paywalls-ai: POST /v1/chat/completions through the Paywalls.ai proxy (each answer charged from the
             reported usage) vs the same fake provider served bare, target ≥ 0.6×; and the time to the
             first streamed chunk (sequential requests, p50), target ≤ the bare provider's + 2 ms.
- paykit:    POST /api/v1/meter (PayKit's ledger, demo project, cost 1) vs a bare aiohttp POST handler
             (parse JSON, answer JSON); target ≥ 0.5×.
- scale:     a monetize world of `--scale-users` users (100,000) with one open checkout each (fresh
             users and Idempotency-Keys, filled in-process by scripts/_bench_scale.py through the
             domain's own functions) and `--scale-events` domain events (1,000,000), against an empty
             world served the same way in the same run: POST start-checkout and POST balances
             credit/debit requests/s, target ≥ 0.8× the empty world's; the time of a one-day
             POST /_emulator/clock/advance with one webhook receiver that never answers, target ≤ one
             attempt timeout (10 s; quick: 2 s), on both worlds before the load runs: the move waits
             that one timeout for the hanging attempt by design, so the target allows 10% for the
             move's own work on top (the figure to watch is "one timeout, not one per attempt"); in
             the big world all 100,000 checkouts, started at fill time, expire in that move too (the
             worst case: each is a transition in the answer); the resident memory 100,000 checkouts take (and
             1,000,000 events, for information), from the filling process's RSS.
- reset:     POST /_emulator/reset (median of `--resets`) and in-process `World.reset()`, target
             ≤ 1 ms; in-process start (create_app + AppRunner + first response), target < 0.1 s,
             against a bare app's AppRunner cycle; `ThreadedEmulator` start/stop and its `reset()` (the
             `paywall_emulator` fixture's per-test reset), target ≤ 1 ms.

Servers run as subprocesses on free loopback ports with request and response validation on (the
default strict mode). Load comes from a separate process: `wrk` when installed, else
scripts/_bench_load.py (aiohttp client). The machine is shared, so every load run also reports the
CPU the server and the client used and what the rest of the machine took meanwhile ("others", in
cores): a run where the server was not near one full core was limited by something else. The
server's CPU per answer (and its bare/emulator ratio) is steadier than requests/s when the machine
is shared; the targets are judged on requests/s.
Prints a table with PASS/MISS per target; exits 0 unless the bench itself fails.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
PY = sys.executable
SECTIONS = ("startup", "bootstrap", "debit", "gateway", "paykit", "paywalls-ai", "scale", "reset")

ACME_KEY = "sk_emulator_acme_4f1c2d9e8b7a6c5d"
ALICE_EMAIL = "alice@example.com"
ALICE_ID = "a11ce000-0000-4000-8000-000000000001"
PROVIDER_ID = "3f6c1a52-7d2e-4b8f-9a10-5c4e2b7d9f01"
BOOTSTRAP_PATH = "/api/v1/paywall/3/bootstrap"
BALANCES_PATH = "/api/v1/paywall/15/balances"
GATEWAY_PATH = f"/api/v1/api-gateway/{PROVIDER_ID}/v1/chat/completions?paywall_id=15"
PROVIDER_PATH = "/v1/chat/completions"
CHAT_BODY = json.dumps({"model": "fake-gpt-emulator", "messages": [{"role": "user", "content": "hello bench"}]})
JSON_HEADERS = {"Content-Type": "application/json"}
PAYWALLS_KEY = "sk-paywalls-v1-emulator-demo"
PAYWALLS_HEADERS = {**JSON_HEADERS, "Authorization": f"Bearer {PAYWALLS_KEY}"}
PAYWALLS_BODY = json.dumps({"model": "fake-gpt-emulator", "user": "bench",
                            "messages": [{"role": "user", "content": "hello bench"}]})
METER_PATH = "/api/v1/meter"
METER_BODY = json.dumps({"userId": "bench_user", "event": "bench"})
PAYKIT_SECRET = "sk_live_demo"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SATURATED = 0.75  # cores a server must have used for its requests/s to measure the server


def adjust_body(op: str, amount: int = 1) -> str:
    return json.dumps({"email": ALICE_EMAIL, "type": "standard", "amount": amount, "op": op})


# --- processes and plain HTTP ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(port: int) -> list[str]:
    script = Path(PY).parent / "paywall-emulator"
    base = [str(script)] if script.exists() else [PY, "-m", "emulator"]
    return [*base, "serve", "--host", "127.0.0.1", "--port", str(port)]


def bare_command(port: int, *extra: str) -> list[str]:
    return [PY, str(SCRIPTS / "_bench_bare.py"), "--port", str(port), *extra]


def request(port: int, method: str, path: str, body: str | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body.encode() if body is not None else None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_first_200(proc: subprocess.Popen[Any], port: int, path: str, timeout: float = 30) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before answering")
        try:
            status, _ = request(port, "GET", path, timeout=2)
        except OSError:
            time.sleep(0.002)
            continue
        if status == 200:
            return
        time.sleep(0.002)
    raise RuntimeError(f"{proc.args!r} did not answer 200 on {path} within {timeout} s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # aiohttp's run_app shuts down cleanly on SIGINT
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def server(cmd: list[str], port: int, ready_path: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_first_200(proc, port, ready_path)
        yield proc
    finally:
        stop(proc)
        if proc.stderr is not None:
            err = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            if err and "KeyboardInterrupt" not in err:
                print(f"[stderr of {Path(cmd[1] if cmd[0] == PY else cmd[0]).name}]\n{err[-2000:]}", file=sys.stderr)


def launch_to_first_200(cmd_for: Callable[[int], list[str]]) -> tuple[float, float]:
    """(wall seconds from launch to the first 200, CPU seconds the server had used by then)."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd_for(port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_first_200(proc, port, BOOTSTRAP_PATH)
        return time.perf_counter() - t0, run_time(proc.pid)
    finally:
        stop(proc)


def run_time(pid: int) -> float:
    """CPU seconds the live threads of `pid` have run, to the nanosecond (/proc/<pid>/task/*/schedstat):
    unlike wall time, barely moved by what else the machine runs. A thread that already ended is not
    counted (a server starts none before its first answer)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except FileNotFoundError:  # the thread ended between the listing and the read
            continue
    return total / 1e9


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """CPU seconds all cores spent not idle, so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- load generation ------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx answers and transport errors
    server_cores: float  # CPU the server used, in cores
    server_cpu_per_request: float  # seconds of server CPU per counted answer
    client_cores: float
    other_cores: float  # everything else on the machine meanwhile
    extra: dict[str, Any] = field(default_factory=dict)


WRK_SCRIPT = """
local method = [==[{method}]==]
local path = [==[{path}]==]
local headers = {{ {headers} }}
local bodies = {{ {bodies} }}
local reqs = {{}}
local turn = 0
init = function(args)
  if #bodies == 0 then
    reqs[1] = wrk.format(method, path, headers, nil)
  else
    for k, b in ipairs(bodies) do reqs[k] = wrk.format(method, path, headers, b) end
  end
end
request = function()
  turn = turn % #reqs + 1
  return reqs[turn]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {{"requests":%d,"duration_us":%d,"non_2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_str(text: str) -> str:
    return f"[==[{text}]==]"


class LoadGenerator:
    def __init__(self, client: str, connections: int, duration: float, warmup: float) -> None:
        wrk = shutil.which("wrk")
        if client == "wrk" and wrk is None:
            raise SystemExit("--client wrk: wrk is not installed (apt-get install wrk)")
        self.wrk = wrk if client in ("auto", "wrk") else None
        self.connections = connections
        self.duration = duration
        self.warmup = warmup
        self.tmp = Path(tempfile.mkdtemp(prefix="paywall-bench-"))

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "aiohttp client (scripts/_bench_load.py)"

    def run(self, port: int, server_pid: int, method: str, path: str, *, bodies: list[str] | None = None,
            headers: dict[str, str] | None = None) -> LoadResult:
        bodies, headers = bodies or [], headers or {}
        if self.wrk and self.warmup > 0:
            self._wrk(port, method, path, bodies, headers, max(1, round(self.warmup)))
        cpu0, busy0, kids0, t0 = proc_cpu(server_pid), machine_busy(), children_cpu(), time.perf_counter()
        if self.wrk:
            out = self._wrk(port, method, path, bodies, headers, max(1, round(self.duration)))
            requests, seconds = out["requests"], out["duration_us"] / 1e6
            p50, p99 = out["p50_us"] / 1000, out["p99_us"] / 1000
        else:
            out = self._python(port, method, path, bodies, headers)
            requests, seconds, p50, p99 = out["requests"], out["duration"], out["p50_ms"], out["p99_ms"]
        wall = time.perf_counter() - t0
        server = proc_cpu(server_pid) - cpu0
        client = children_cpu() - kids0
        busy = machine_busy() - busy0
        return LoadResult(rps=requests / seconds if seconds else 0.0, p50_ms=p50, p99_ms=p99, requests=requests,
                          bad=out["non_2xx"] + out["errors"], server_cores=server / wall,
                          server_cpu_per_request=server / requests if requests else 0.0, client_cores=client / wall,
                          other_cores=max(0.0, busy - server - client) / wall)

    def _wrk(self, port: int, method: str, path: str, bodies: list[str], headers: dict[str, str],
             seconds: int) -> dict[str, Any]:
        script = self.tmp / "load.lua"
        script.write_text(WRK_SCRIPT.format(
            method=method, path=path,
            headers=", ".join(f"[ {lua_str(k)} ] = {lua_str(v)}" for k, v in headers.items()),
            bodies=", ".join(lua_str(b) for b in bodies)))
        cmd = [str(self.wrk), "-t1", f"-c{self.connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}{path}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                return json.loads(line.removeprefix("BENCHJSON "))  # type: ignore[no-any-return]
        raise RuntimeError(f"wrk printed no result (exit {proc.returncode}): {proc.stdout}{proc.stderr}")

    def _python(self, port: int, method: str, path: str, bodies: list[str],
                headers: dict[str, str]) -> dict[str, Any]:
        cmd = [PY, str(SCRIPTS / "_bench_load.py"), "--url", f"http://127.0.0.1:{port}{path}", "--method", method,
               "--connections", str(self.connections), "--duration", str(self.duration),
               "--warmup", str(self.warmup)]
        for name, value in headers.items():
            cmd += ["--header", f"{name}: {value}"]
        for body in bodies:
            cmd += ["--body", body]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.duration + self.warmup + 60,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed: {proc.stderr[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- the report -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    section: str
    metric: str
    emulator: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    result: str = ""


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def add(self, *args: str, **kwargs: str) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        cells = [row.section, row.metric, row.emulator, row.reference, row.ratio, row.target, row.result]
        print("  ... " + " | ".join(c for c in cells if c), flush=True)  # progress while the bench runs

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  ... {text}", flush=True)

    def print(self) -> None:
        header = Row("section", "metric", "emulator", "reference", "ratio", "target", "result")
        rows = [header, *self.rows]
        cols = ["section", "metric", "emulator", "reference", "ratio", "target", "result"]
        widths = {c: max(len(getattr(r, c)) for r in rows) for c in cols}
        for i, row in enumerate(rows):
            print("  ".join(getattr(row, c).ljust(widths[c]) for c in cols).rstrip())
            if i == 0:
                print("  ".join("-" * widths[c] for c in cols))
        for text in self.notes:
            print(f"note: {text}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def cpu_note(label: str, emu: LoadResult, ref: LoadResult) -> str:
    return (f"{label}: emulator server {emu.server_cores:.2f} cores / client {emu.client_cores:.2f} / others "
            f"{emu.other_cores:.2f}; reference server {ref.server_cores:.2f} / client {ref.client_cores:.2f} / "
            f"others {ref.other_cores:.2f}")


def throughput_rows(report: Report, section: str, label: str, emu: list[LoadResult], ref: list[LoadResult],
                    target: float | None) -> None:
    emu_rps = statistics.median(r.rps for r in emu)
    ref_rps = statistics.median(r.rps for r in ref)
    ratio = statistics.median(e.rps / r.rps for e, r in zip(emu, ref, strict=True) if r.rps)
    bad = sum(r.bad for r in emu)
    result = ""
    if target is not None:
        result = verdict(ratio >= target and bad == 0) + (f" ({bad} failed answers)" if bad else "")
    elif bad:
        result = f"({bad} failed answers)"
    busy = min(r.server_cores for r in [*emu, *ref])
    if busy < SATURATED:  # the load generator or the rest of the machine set the pace, not the servers
        result = f"{result} (unreliable: a server was only {busy:.2f} cores busy)".strip()
    report.add(section, f"{label} req/s", f"{emu_rps:,.0f}", f"{ref_rps:,.0f}", f"{ratio:.2f}×",
               f"≥ {target:.2f}×" if target is not None else "", result)
    emu_cpu = statistics.median(r.server_cpu_per_request for r in emu)
    ref_cpu = statistics.median(r.server_cpu_per_request for r in ref)
    report.add(section, f"{label} server CPU µs/answer", f"{emu_cpu * 1e6:.0f}", f"{ref_cpu * 1e6:.0f}",
               f"{ref_cpu / emu_cpu:.2f}×" if emu_cpu else "", "(info)")
    report.add(section, f"{label} p50 / p99 ms",
               f"{statistics.median(r.p50_ms for r in emu):.2f} / {statistics.median(r.p99_ms for r in emu):.2f}",
               f"{statistics.median(r.p50_ms for r in ref):.2f} / {statistics.median(r.p99_ms for r in ref):.2f}")
    for i, (e, r) in enumerate(zip(emu, ref, strict=True)):
        report.note(cpu_note(f"{label} round {i + 1}", e, r))


# --- sections -------------------------------------------------------------------------------------


def compile_bytecode(report: Report) -> None:
    """Measure what users run: `pip install` compiles a package's bytecode, but an editable checkout
    only gets it when imports may write it, and PYTHONDONTWRITEBYTECODE (set on some machines) forbids
    that, so every launch would compile the emulator's sources again (~100 ms). Compile them once here
    (`__pycache__/` is ignored by git); aiohttp, installed by pip, already has its bytecode."""
    compileall.compile_dir(str(ROOT / "emulator"), quiet=1)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        report.note("bytecode: emulator/ compiled before the runs (PYTHONDONTWRITEBYTECODE is set here, as pip "
                    "install would have done)")


def bench_startup(report: Report, launches: int) -> None:
    """Every product (the default), and `--products monetize` (what the target was set against: one
    product), each against the same bare launches, interleaved."""
    emu: list[tuple[float, float]] = []
    one: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    commands: list[tuple[Callable[[int], list[str]], list[tuple[float, float]]]] = [
        (bare_command, bare), (serve_command, emu),
        (lambda port: [*serve_command(port), "--products", "monetize"], one)]
    for i in range(launches):
        for command, into in commands if i % 2 == 0 else reversed(commands):
            into.append(launch_to_first_200(command))
    b = statistics.median(wall for wall, _ in bare)
    b_cpu = statistics.median(cpu for _, cpu in bare)
    for label, runs in (("every product", emu), ("--products monetize", one)):
        e = statistics.median(wall for wall, _ in runs)
        report.add("startup", f"launch → first 200, {label} (median of {launches})", ms(e), ms(b), f"{e / b:.2f}×",
                   "≤ 1.30×", verdict(e / b <= 1.3))
        e_cpu = statistics.median(cpu for _, cpu in runs)
        report.add("startup", f"  server CPU by the first 200, {label}", ms(e_cpu), ms(b_cpu), f"{e_cpu / b_cpu:.2f}×")
    report.note(f"startup launches, every product: {', '.join(ms(x) for x, _ in emu)}; monetize only: "
                f"{', '.join(ms(x) for x, _ in one)}; bare: {', '.join(ms(x) for x, _ in bare)}")


def credit(port: int, amount: int) -> int:
    status, body = request(port, "POST", BALANCES_PATH, adjust_body("credit", amount),
                           {**JSON_HEADERS, "X-Api-Key": ACME_KEY})
    if status != 200:
        raise RuntimeError(f"credit answered {status}: {body[:300]!r}")
    return int(json.loads(body)["count"])


def bench_load(report: Report, load: LoadGenerator, selected: set[str], rounds: int, resets: int) -> None:
    emu_port = free_port()
    with server(serve_command(emu_port), emu_port, BOOTSTRAP_PATH) as emu:
        if selected & {"bootstrap", "debit", "paykit"}:
            bench_against_bare(report, load, selected, rounds, emu_port, emu.pid)
        if "gateway" in selected:
            bench_gateway(report, load, emu_port, emu.pid, rounds)
        if "paywalls-ai" in selected:
            bench_paywalls_ai(report, load, emu_port, emu.pid, rounds)
        if "reset" in selected:
            bench_http_reset(report, emu_port, resets)


def bench_against_bare(report: Report, load: LoadGenerator, selected: set[str], rounds: int, emu_port: int,
                       emu_pid: int) -> None:
    status, bootstrap = request(emu_port, "GET", BOOTSTRAP_PATH)
    if status != 200:
        raise RuntimeError(f"bootstrap answered {status}")
    payload = load.tmp / "bootstrap.json"
    payload.write_bytes(bootstrap)
    bare_port = free_port()
    with server(bare_command(bare_port, "--bootstrap", str(payload)), bare_port, BOOTSTRAP_PATH) as bare:
        if "bootstrap" in selected:
            emu_runs, ref_runs = [], []
            for _ in range(rounds):
                ref_runs.append(load.run(bare_port, bare.pid, "GET", BOOTSTRAP_PATH))
                emu_runs.append(load.run(emu_port, emu_pid, "GET", BOOTSTRAP_PATH))
            throughput_rows(report, "bootstrap", "GET bootstrap", emu_runs, ref_runs, 0.6)
        if "debit" in selected:
            credit(emu_port, 1000)  # debits never meet an empty balance, whatever the interleaving
            bodies = [adjust_body("credit"), adjust_body("debit")]
            headers = {**JSON_HEADERS, "X-Api-Key": ACME_KEY}
            emu_runs, ref_runs = [], []
            for _ in range(rounds):
                ref_runs.append(load.run(bare_port, bare.pid, "POST", BALANCES_PATH, bodies=bodies, headers=headers))
                emu_runs.append(load.run(emu_port, emu_pid, "POST", BALANCES_PATH, bodies=bodies, headers=headers))
            throughput_rows(report, "debit", "POST balances credit/debit", emu_runs, ref_runs, 0.5)
        if "paykit" in selected:
            bench_meter(report, load, rounds, emu_port, emu_pid, bare_port, bare.pid)


def bench_meter(report: Report, load: LoadGenerator, rounds: int, emu_port: int, emu_pid: int, bare_port: int,
                bare_pid: int) -> None:
    """PayKit's meter, each answer deducting 1 credit of one account that never runs dry."""
    headers = {**JSON_HEADERS, "x-paykit-key": PAYKIT_SECRET}
    grant = json.dumps({"userId": "bench_user", "amount": 1_000_000})
    for _ in range(5):
        status, body = request(emu_port, "POST", "/api/v1/credits", grant, headers)
        if status != 200:
            raise RuntimeError(f"PayKit credits answered {status}: {body[:300]!r}")
    emu_runs, ref_runs = [], []
    for _ in range(rounds):
        ref_runs.append(load.run(bare_port, bare_pid, "POST", METER_PATH, bodies=[METER_BODY], headers=headers))
        emu_runs.append(load.run(emu_port, emu_pid, "POST", METER_PATH, bodies=[METER_BODY], headers=headers))
    status, body = request(emu_port, "POST", METER_PATH, METER_BODY, headers)
    if status != 200:
        raise RuntimeError(f"PayKit meter answered {status} after the load: {body[:300]!r}")
    throughput_rows(report, "paykit", "POST meter", emu_runs, ref_runs, 0.5)


def bench_gateway(report: Report, load: LoadGenerator, emu_port: int, emu_pid: int, rounds: int) -> None:
    headers = {**JSON_HEADERS, "X-User-ID": ALICE_ID}
    status, body = request(emu_port, "POST", GATEWAY_PATH, CHAT_BODY, headers)
    if status == 501:
        report.add("gateway", "POST chat/completions via gateway", "skipped", result="(this build's gateway: 501)")
        report.note("gateway: this build answers 501 not_implemented (an old checkout?); section skipped")
        return
    before = credit(emu_port, 10_000_000)
    status, body = request(emu_port, "POST", GATEWAY_PATH, CHAT_BODY, headers)
    if status != 200:
        raise RuntimeError(f"gateway answered {status}: {body[:300]!r}")
    provider_port = free_port()
    with server(bare_command(provider_port, "--mode", "fake-provider"), provider_port, "/v1/models") as provider:
        status, direct = request(provider_port, "POST", PROVIDER_PATH, CHAT_BODY, JSON_HEADERS)
        if status != 200 or json.loads(direct)["choices"] != json.loads(body)["choices"]:
            raise RuntimeError(f"the direct fake provider answers differently ({status}): {direct[:300]!r}")
        emu_runs, ref_runs = [], []
        for _ in range(rounds):
            ref_runs.append(load.run(provider_port, provider.pid, "POST", PROVIDER_PATH, bodies=[CHAT_BODY],
                                     headers=JSON_HEADERS))
            emu_runs.append(load.run(emu_port, emu_pid, "POST", GATEWAY_PATH, bodies=[CHAT_BODY], headers=headers))
    after = credit(emu_port, 1) - 1
    charged = before - 1 - after  # minus the probe request made after `before`
    throughput_rows(report, "gateway", "POST chat/completions (1 debit each)", emu_runs, ref_runs, None)
    counted = sum(r.requests for r in emu_runs)
    report.note(f"gateway: {charged:,} tokens charged for {counted:,} answers counted by the load generator "
                "(plus warm-up and requests still in flight when it stopped)")


def paywalls_balance(port: int) -> int:
    status, body = request(port, "GET", "/v1/user/balance?user=bench", None, PAYWALLS_HEADERS)
    if status != 200:
        raise RuntimeError(f"Paywalls.ai balance answered {status}: {body[:300]!r}")
    return int(json.loads(body)["balance"])


def first_chunk_p50(port: int, path: str, body: str, headers: dict[str, str], count: int) -> float:
    """Median seconds from sending a streamed completion to reading its first body bytes (one keep-alive
    connection, sequential requests)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            if resp.status != 200 or not resp.read1(65536):
                raise RuntimeError(f"streamed completion answered {resp.status}")
            times.append(time.perf_counter() - started)
            resp.read()
    finally:
        conn.close()
    return statistics.median(times)


def bench_paywalls_ai(report: Report, load: LoadGenerator, emu_port: int, emu_pid: int, rounds: int) -> None:
    status, body = request(emu_port, "POST", "/v1/user/balance/deposit",
                           json.dumps({"user": "bench", "amount": "1000000"}), PAYWALLS_HEADERS)
    if status != 200:
        raise RuntimeError(f"Paywalls.ai deposit answered {status}: {body[:300]!r}")
    before = paywalls_balance(emu_port)
    status, body = request(emu_port, "POST", PROVIDER_PATH, PAYWALLS_BODY, PAYWALLS_HEADERS)
    if status != 200 or paywalls_balance(emu_port) >= before:
        raise RuntimeError(f"the Paywalls.ai proxy answered {status} without charging: {body[:300]!r}")
    stream_body = json.dumps({**json.loads(PAYWALLS_BODY), "stream": True})
    provider_port = free_port()
    with server(bare_command(provider_port, "--mode", "fake-provider"), provider_port, "/v1/models") as provider:
        status, direct = request(provider_port, "POST", PROVIDER_PATH, PAYWALLS_BODY, JSON_HEADERS)
        if status != 200 or json.loads(direct)["choices"] != json.loads(body)["choices"]:
            raise RuntimeError(f"the direct fake provider answers differently ({status}): {direct[:300]!r}")
        emu_runs, ref_runs = [], []
        for _ in range(rounds):
            ref_runs.append(load.run(provider_port, provider.pid, "POST", PROVIDER_PATH, bodies=[PAYWALLS_BODY],
                                     headers=JSON_HEADERS))
            emu_runs.append(load.run(emu_port, emu_pid, "POST", PROVIDER_PATH, bodies=[PAYWALLS_BODY],
                                     headers=PAYWALLS_HEADERS))
        count = 50 if load.duration <= 1 else 300
        bare_ttfb = first_chunk_p50(provider_port, PROVIDER_PATH, stream_body, JSON_HEADERS, count)
        emu_ttfb = first_chunk_p50(emu_port, PROVIDER_PATH, stream_body, PAYWALLS_HEADERS, count)
    throughput_rows(report, "paywalls-ai", "POST /v1/chat/completions (charged)", emu_runs, ref_runs, 0.6)
    report.add("paywalls-ai", f"streamed: first chunk p50 ({count} sequential)", ms(emu_ttfb), ms(bare_ttfb),
               f"+{(emu_ttfb - bare_ttfb) * 1000:.2f} ms", "≤ +2 ms", verdict(emu_ttfb <= bare_ttfb + 0.002))
    report.note(f"paywalls-ai: {(before - paywalls_balance(emu_port)) / 10**18:.6f} USDC charged in all")


def bench_http_reset(report: Report, port: int, count: int) -> None:
    def round_trips(method: str, path: str) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        times = []
        try:
            for _ in range(count):
                t0 = time.perf_counter()
                conn.request(method, path)
                resp = conn.getresponse()
                resp.read()
                times.append(time.perf_counter() - t0)
                if resp.status != 200:
                    raise RuntimeError(f"{method} {path} answered {resp.status}")
        finally:
            conn.close()
        return times

    health = statistics.median(round_trips("GET", "/_emulator/health"))
    reset = statistics.median(round_trips("POST", "/_emulator/reset"))
    report.add("reset", f"POST /_emulator/reset round trip (median of {count}; ref: GET health)", ms(reset),
               ms(health), "", "≤ 1 ms", verdict(reset <= 0.001))


def bench_inprocess(report: Report, quick: bool, resets: int) -> None:
    cmd = [PY, str(SCRIPTS / "_bench_inproc.py"), "--resets", str(resets)]
    if quick:
        cmd += ["--starts", "2", "--bare-starts", "5", "--threaded", "2"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"_bench_inproc.py failed: {proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    reset = out["reset"]
    report.add("reset", f"World.reset() in-process (median of {reset['runs']})", ms(reset["median"]), "", "",
               "≤ 1 ms", verdict(reset["median"] <= 0.001))
    emu, bare = out["start"]["emulator"], out["start"]["bare"]
    report.add("start", "in-process start → first response (first in process)", ms(emu["first_start"]),
               ms(bare["first_start"]), f"{emu['first_start'] / bare['first_start']:.0f}×", "< 100 ms",
               verdict(emu["first_start"] < 0.1))
    report.add("start", f"in-process start → first response (median of {emu['runs'] - 1 or 1} more)",
               ms(emu["start"]), ms(bare["start"]), f"{emu['start'] / bare['start']:.0f}×", "< 100 ms",
               verdict(emu["start"] < 0.1))
    report.add("start", "  of which create_app (specs, validators, seed)", ms(emu["build"]), ms(bare["build"]))
    report.add("start", "start + first response + stop (AppRunner cycle)", ms(emu["cycle"]), ms(bare["cycle"]),
               f"{emu['cycle'] / bare['cycle']:.0f}×")
    threaded = out["threaded"]
    report.add("start", f"ThreadedEmulator start / stop (median of {threaded['runs']})",
               f"{ms(threaded['start'])} / {ms(threaded['stop'])}", ms(bare["cycle"]))
    report.add("reset", f"paywall_emulator fixture reset (ThreadedEmulator.reset, median of "
                        f"{threaded['fixture_resets']})", ms(threaded["fixture_reset"]), "", "", "≤ 1 ms",
               verdict(threaded["fixture_reset"] <= 0.001))
    report.note(f"imports in a fresh process: aiohttp {ms(out['import_aiohttp'])}, emulator on top "
                f"{ms(out['import_emulator'])}; first ThreadedEmulator start {ms(threaded['first_start'])}")


# --- scale ----------------------------------------------------------------------------------------

CHECKOUT_PATH = "/api/v1/paywall/3/start-checkout"


@contextlib.contextmanager
def scale_server(tmp: Path, users: int, events: int,
                 webhook_timeout: float) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(port, pid, fill figures) of a world filled in-process by scripts/_bench_scale.py."""
    port = free_port()
    out = tmp / f"scale-{port}.out"
    cmd = [PY, str(SCRIPTS / "_bench_scale.py"), "--port", str(port), "--users", str(users), "--events",
           str(events), "--webhook-timeout", str(webhook_timeout)]
    with out.open("w") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_first_200(proc, port, BOOTSTRAP_PATH, timeout=900)
        figures = json.loads(out.read_text().splitlines()[0])
        yield port, proc.pid, figures
    finally:
        stop(proc)
        tail = out.read_text().splitlines()[1:]
        if any("Traceback" in line for line in tail):
            print("[output of _bench_scale.py]\n" + "\n".join(tail[-40:]), file=sys.stderr)


class HangingReceiver:
    """A webhook receiver that accepts connections and never answers (nobody reads its socket)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self) -> None:
        self.sock.close()


def control_post(port: int, path: str, body: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    status, raw = request(port, "POST", f"/_emulator{path}", json.dumps(body), JSON_HEADERS, timeout=timeout)
    if status not in (200, 201):
        raise RuntimeError(f"POST /_emulator{path} answered {status}: {raw[:300]!r}")
    answer: dict[str, Any] = json.loads(raw)
    return answer


def timed_day_advance(port: int, receiver: HangingReceiver) -> tuple[float, int]:
    """Seconds a one-day clock move takes with a paid checkout's webhooks due to a receiver that never
    answers, and how many transitions the move made (those it listed plus those it counted as omitted)."""
    endpoint = control_post(port, "/webhooks/endpoints", {"url": receiver.url, "secret": "whsec_bench_scale"})
    # Due an hour after the event: the background worker sends nothing before the move, which then makes
    # every attempt itself (an attempt already in flight when a move starts keeps its own timeout).
    control_post(port, f"/webhooks/endpoints/{endpoint['id']}/policy", {"delay_seconds": 3600})
    status, raw = request(port, "POST", CHECKOUT_PATH, json.dumps({"email": "hanging@example.com", "priceId": "102"}),
                          {**JSON_HEADERS, "X-Api-Key": ACME_KEY})
    if status != 200:
        raise RuntimeError(f"start-checkout answered {status}: {raw[:300]!r}")
    session = json.loads(raw)["checkoutUrl"].rsplit("/", 1)[-1].split("?")[0]
    control_post(port, f"/checkouts/{session}/complete", {})
    started = time.perf_counter()
    move = control_post(port, "/clock/advance", {"days": 1})
    listed = len(move.get("transitions", []))
    return time.perf_counter() - started, listed + int((move.get("omitted") or {}).get("transitions", 0))


def bench_scale(report: Report, load: LoadGenerator, rounds: int, users: int, events: int,
                webhook_timeout: float) -> None:
    checkout_bodies = [json.dumps({"email": f"load{i}@example.com", "priceId": "102"}) for i in range(256)]
    checkout_headers = {**JSON_HEADERS, "X-Api-Key": ACME_KEY}
    debit_bodies = [adjust_body("credit"), adjust_body("debit")]
    size = f"{users:,} users/checkouts + {events:,} events"
    with scale_server(load.tmp, 0, 0, webhook_timeout) as (e_port, e_pid, _), \
            scale_server(load.tmp, users, events, webhook_timeout) as (b_port, b_pid, fill):
        report.note(f"scale: big world filled in-process in {fill['checkouts_s']:.1f} s (checkouts) + "
                    f"{fill['events_s']:.1f} s (events): {fill['checkouts']:,} checkouts, {fill['events']:,} events")
        # The moves first, while the empty world is empty (the load runs below leave thousands of open
        # checkouts behind); the big world's 100,000 open checkouts all expire in its move (the worst case).
        receiver = HangingReceiver()
        try:
            empty_move, _ = timed_day_advance(e_port, receiver)
            big_move, transitions = timed_day_advance(b_port, receiver)
        finally:
            receiver.close()
        credit(e_port, 1000)
        credit(b_port, 1000)
        runs: dict[str, tuple[list[LoadResult], list[LoadResult]]] = {"checkout": ([], []), "debit": ([], [])}
        for _ in range(rounds):
            for name, path, bodies, headers in (("checkout", CHECKOUT_PATH, checkout_bodies, checkout_headers),
                                                ("debit", BALANCES_PATH, debit_bodies, checkout_headers)):
                big, empty = runs[name]
                empty.append(load.run(e_port, e_pid, "POST", path, bodies=bodies, headers=headers))
                big.append(load.run(b_port, b_pid, "POST", path, bodies=bodies, headers=headers))
        throughput_rows(report, "scale", f"POST start-checkout, {size} vs empty", *runs["checkout"], 0.8)
        throughput_rows(report, "scale", f"POST balances credit/debit, {size} vs empty", *runs["debit"], 0.8)
        target = f"≤ {webhook_timeout:g} s +10%"
        report.add("scale", "clock/advance 1 day, 1 hanging receiver, empty world", ms(empty_move), "", "", target,
                   verdict(empty_move <= webhook_timeout * 1.1))
        report.add("scale", f"clock/advance 1 day, 1 hanging receiver, big world ({transitions:,} transitions: "
                            "all its checkouts expire)", ms(big_move), ms(empty_move), "", target,
                   verdict(big_move <= webhook_timeout * 1.1))
    if fill["checkouts"]:
        per_checkout = (fill["rss_checkouts"] - fill["rss_empty"]) / fill["checkouts"]
        report.add("scale", "RSS per 100,000 checkouts (fresh users and Idempotency-Keys)",
                   f"{per_checkout * 100_000 / 2**20:.0f} MiB", "", "", "(info)")
    if fill["events"]:
        per_event = (fill["rss_events"] - fill["rss_checkouts"]) / fill["events"]
        report.add("scale", "RSS per 1,000,000 domain events", f"{per_event * 1_000_000 / 2**20:.0f} MiB", "", "",
                   "(info)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test (figures are rough)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--duration", type=float, default=None, help="seconds per load run (default 5, quick 1)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of warm-up per load run (default 1)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1, help="load runs per figure (medians are reported)")
    parser.add_argument("--launches", type=int, default=None, help="launches per startup figure (default 5)")
    parser.add_argument("--resets", type=int, default=None, help="resets per reset figure (default 200)")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--scale-users", type=int, default=None,
                        help="users (one checkout each) of the scale section's big world (default 100000, quick 2000)")
    parser.add_argument("--scale-events", type=int, default=None,
                        help="domain events of the scale section's big world (default 1000000, quick 20000)")
    args = parser.parse_args(argv)
    selected = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = selected - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    duration = args.duration or (1.0 if args.quick else 5.0)
    warmup = args.warmup if args.warmup is not None else (0.0 if args.quick else 1.0)
    launches = args.launches or (2 if args.quick else 5)
    resets = args.resets or (30 if args.quick else 200)

    load = LoadGenerator(args.client, args.connections, duration, warmup)
    report = Report()
    compile_bytecode(report)
    started = time.perf_counter()
    print(f"paywall-emulator bench: {', '.join(s for s in SECTIONS if s in selected)}; "
          f"load average {loadavg()} (1/5/15 min) at start; {os.cpu_count()} cores", flush=True)
    try:
        if "startup" in selected:
            bench_startup(report, launches)
        if selected & {"bootstrap", "debit", "gateway", "paykit", "paywalls-ai", "reset"}:
            if selected & {"bootstrap", "debit", "gateway", "paykit", "paywalls-ai"}:
                report.note(f"load: {load.name}, {args.connections} keep-alive connections, {duration:g} s per run "
                            f"after {warmup:g} s warm-up, {args.rounds} round(s)")
            bench_load(report, load, selected, args.rounds, resets)
        if "scale" in selected:
            users = args.scale_users if args.scale_users is not None else (2000 if args.quick else 100_000)
            events = args.scale_events if args.scale_events is not None else (20_000 if args.quick else 1_000_000)
            bench_scale(report, load, args.rounds, users, events, webhook_timeout=2.0 if args.quick else 10.0)
        if "reset" in selected:
            bench_inprocess(report, args.quick, resets)
    finally:
        shutil.rmtree(load.tmp, ignore_errors=True)
    print()
    report.print()
    print(f"load average {loadavg()} at end; bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
