"""The served world of the `scale` section of scripts/bench.py, filled in-process.

`serve`: build the app as `paywall-emulator serve` does, fill its monetize world in the same process
through the domain's own functions (no HTTP endpoint exists for this, and none is needed) and serve it
on `--port` with serve's server options: `--users` fresh users, each with a checkout on the Stripe
paywall started by `checkout.start` with its own Idempotency-Key (the rows start-checkout stores), then
`--events` domain events (each with its own snapshot, as `events.emit` records them). The event cap is
raised to hold them all (what `serve --max-events` does). Building takes seconds where the same world over
HTTP would take many minutes, and a `serve --state` file of it (about 0.9 KB per event as JSON) would
take minutes to write and read back.

Before serving it prints one JSON line: the counts, the fill times and the process's resident memory
before the fill, after the checkouts and after the events (each after a full collection), from which
the bench reports RSS per 100,000 checkouts.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import socket
import sys
import time
from datetime import datetime
from pathlib import Path

from aiohttp import web

from paywall_emulator.app import create_app
from paywall_emulator.config import EmulatorConfig, Limits
from paywall_emulator.engine.keys import WORLD_KEY
from paywall_emulator.engine.middleware import server_options
from paywall_emulator.products.monetize.domain import checkout, events
from paywall_emulator.products.monetize.models import DomainEvent, EventSnapshot
from paywall_emulator.products.monetize.state import Store, store_of

PAYWALL = "3"  # the bundled world's Stripe paywall (acme's key)
PRICE = "102"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


def start_checkouts(store: Store, now: datetime, count: int, prefix: str) -> None:
    """`count` checkouts of fresh users `{prefix}{i}@example.com`, each with its own Idempotency-Key."""
    paywall = store.paywalls[PAYWALL]
    request = checkout.CheckoutRequest(price_id=PRICE)
    for i in range(count):
        email = f"{prefix}{i}@example.com"
        checkout.start(store, now, paywall, request, email=email, bearer_user=None, origin="http://127.0.0.1",
                       hosted=True, idempotency_key=f"{prefix}-key-{i}",
                       fingerprint=checkout.request_fingerprint(PAYWALL, "acme", {"email": email, "priceId": PRICE}))


def record_events(store: Store, now: datetime, count: int) -> None:
    """`count` domain events about the users in turn, built as `events.emit` builds them (a snapshot of
    the price and the user each) but without its checks, which would triple the fill time."""
    paywall = store.paywalls[PAYWALL]
    users = list(store.users.values()) or [None]
    stamp = int(now.timestamp() * 1000)
    for i in range(count):
        user = users[i % len(users)]
        if user is None:
            return
        snapshot = EventSnapshot(paywall_id=paywall.id, acquirer=paywall.acquirer,
                                 price=copy.copy(store.prices[PRICE]), user=copy.copy(user), user_meta={})
        store.record_event(DomainEvent(id=f"evt_{stamp}_{i:012d}", type=events.EVENT_TYPES[i % 5],
                                       owner_id=paywall.owner_id, paywall_id=paywall.id, created_at=now,
                                       data=snapshot, subject=""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=0, help="fresh users, one checkout each")
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--webhook-timeout", type=float, default=EmulatorConfig().webhook_timeout)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    limits = Limits(events=max(args.events, Limits().events))
    config = EmulatorConfig(public_origin=f"http://127.0.0.1:{args.port}", strict_responses=False, limits=limits,
                            webhook_timeout=args.webhook_timeout)
    app = create_app(config)
    world = app[WORLD_KEY]
    store, now = store_of(world), world.now()
    rss0, t0 = rss_bytes(), time.perf_counter()
    start_checkouts(store, now, args.users, "scale")
    rss1, t1 = rss_bytes(), time.perf_counter()
    record_events(store, now, args.events)
    rss2, t2 = rss_bytes(), time.perf_counter()
    world.changed()
    print(json.dumps({"users": args.users, "checkouts": len(store.checkouts), "events": len(store.events),
                      "checkouts_s": t1 - t0, "events_s": t2 - t1, "rss_empty": rss0, "rss_checkouts": rss1,
                      "rss_events": rss2}), flush=True)
    web.run_app(app, sock=sock, print=lambda _: None, access_log=None, **server_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
