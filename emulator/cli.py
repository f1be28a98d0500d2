"""The `paywall-emulator` command line: `serve`, `spec` and `conform` (the contract suite, `conform.py`).

Owns argument parsing and the startup banner; building the app is `app.create_app`'s job.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import EmulatorConfig, Limits

if TYPE_CHECKING:
    from aiohttp import web

# Every refusal of the command line exits with it (argparse's own status for a bad flag): serve, spec,
# conform and diff alike.
USAGE_ERROR = 2


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def build_parser(*, conform: bool = True, argv_command: str | None = "diff") -> argparse.ArgumentParser:
    """The command line; `conform=False` leaves the contract suite's options out (and its module
    unimported), which `main` does for every other command: `serve` starts faster."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="paywall-emulator",
                                     description="Local emulator and contract-test kit for billing APIs")
    parser.add_argument("--version", action="version", version=f"paywall-emulator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{serve,spec,conform,diff}")
    serve = sub.add_parser("serve", help="serve the emulator over HTTP",
                           description="Serve every emulated product on one port, filled from a world file.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (default: 8787; 0 picks a free one)")
    serve.add_argument("--world", type=Path, default=None, metavar="FILE",
                       help="world file (YAML, one section per product; default: the bundled world)")
    serve.add_argument("--id-seed", type=int, default=0, metavar="N", help="seed of the id generators (default: 0)")
    serve.add_argument("--products", default=None, metavar="NAMES",
                       help="serve only these bundled products, comma-separated (monetize, paykit, paywalls-ai): "
                            "faster to start; the world file's sections of the others are skipped (default: all)")
    serve.add_argument("--public-origin", default=None, metavar="URL",
                       help="origin clients use (bootstrap's settings.custom_domain; default: http://HOST:PORT, "
                            "or each request's Host header on a wildcard --host)")
    serve.add_argument("--checkout-urls", choices=("hosted", "acquirer"), default="hosted",
                       help="hosted: the emulator's own checkout pages; acquirer: acquirer-shaped URLs "
                            "(default: hosted)")
    # A spec violation in a reply is an emulator bug: in development it is reported in the
    # X-Emulator-Spec-Violation header and the log; tests and CI (and --strict-responses) answer 500.
    serve.add_argument("--strict-responses", action="store_true",
                       help="answer 500 naming the schema path when a reply violates the spec (default: pass it "
                            "with an X-Emulator-Spec-Violation header and a log line)")
    serve.add_argument("--state", type=Path, default=None, metavar="FILE",
                       help="keep the world across restarts: read FILE on start (if it exists), write it on a "
                            "clean shutdown and on POST /_emulator/snapshot; default: none (a restart loses the world)")
    serve.add_argument("--control-token", default=None, metavar="TOKEN",
                       help="require this value in the X-Emulator-Token header of every control API call "
                            "(the hosted pages excepted; the inspector and the state dump also take ?token=); "
                            "default: none")
    limits = Limits()
    for name, what in (("events", "events in each product's event log (monetize's webhook outbox, PayKit's and "
                                  "Paywalls.ai's events)"),
                       ("deliveries", "finished webhook deliveries"), ("analytics", "ingested analytics events"),
                       ("ledger", "ledger entries (PayKit's usage log, Paywalls.ai's balance activity)"),
                       ("checkouts", "checkout sessions that ended unpaid (expired, declined, cancelled)"),
                       ("mailbox", "messages in the emulated mailbox (sign-in's codes and links)")):
        serve.add_argument(f"--max-{name}", type=_positive, default=getattr(limits, name), metavar="N",
                           help=f"keep at most about N {what}; the oldest are evicted and counted "
                                f"(default: {getattr(limits, name)})")
    serve.add_argument("--log-level", default="WARNING", type=str.upper,
                       choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="server log level (default: WARNING)")
    spec = sub.add_parser("spec", help="print the path of a bundled OpenAPI document",
                          description="Print the path of a bundled OpenAPI 3.1 document, e.g. to feed a client "
                                      "generator: `paywall-emulator spec monetize`.")
    spec.add_argument("which", nargs="?", default="monetize",
                      help="a product name (its public API), 'control' (the engine's control API) or "
                           "'<product>.control' (the product's control operations) (default: monetize)")
    parity = sub.add_parser("diff", help="compare the read-only answers of the emulator and a deployment")
    if argv_command == "diff":
        from .diff import add_arguments as add_diff_arguments

        add_diff_arguments(parity)
    suite = sub.add_parser("conform", help="run the contract suite against the emulator or a deployment",
                           description="Run the contract suite against the bundled emulator (in a thread, "
                                       "default) or a deployment (--base-url).",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    if conform:
        from .conform import add_arguments as add_conform_arguments

        add_conform_arguments(suite)
    return parser


class CliError(Exception):
    """A mistake the person can fix: printed as one line on stderr, exit status 2, no traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(conform=argv[:1] == ["conform"], argv_command=argv[0] if argv else None).parse_args(argv)
    try:
        if args.command == "spec":
            print(spec_document(args.which))
            return 0
        if args.command == "diff":
            from .diff import run as run_diff

            return run_diff(args)
        if args.command == "conform":
            from .conform import run

            return run(args)
        return serve(args)
    except CliError as exc:
        print(f"paywall-emulator {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR


def spec_document(which: str) -> Path:
    from .app import bundled_products
    from .engine.openapi import CONTROL_SPEC, spec_path

    products = bundled_products()
    files = {"control": CONTROL_SPEC, "public": products[0].spec}
    for product in products:
        files[product.name] = product.spec
        if product.control_spec:
            files[f"{product.name}.control"] = product.control_spec
    if which not in files:
        raise CliError(f"unknown document {which!r}; one of {', '.join(files)}")
    return spec_path(files[which])


def is_origin(value: str) -> bool:
    """`http(s)://host[:port]`, nothing after it but an optional slash (clients append the API's paths)."""
    from urllib.parse import urlsplit

    from .engine.values import is_http_url

    if not is_http_url(value):
        return False
    parts = urlsplit(value)
    return parts.path in ("", "/") and not parts.query and not parts.fragment and "@" not in parts.netloc


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), before anything is announced: a busy port is one clear line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on --host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} on {host} is already in use (another paywall-emulator?); stop that "
                           f"process or pick another port with --port") from None
        if exc.errno == errno.EACCES:
            raise CliError(f"no permission to listen on port {port}; pick one above 1023 with --port") from None
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _products(option: str | None) -> tuple[str, ...] | None:
    """`--products`: None (every bundled product) or the names it lists."""
    from .app import product_names

    try:
        return None if option is None else product_names(option)
    except ValueError as exc:
        raise CliError(f"--products: {exc}") from None


def serve(args: argparse.Namespace) -> int:
    # A start builds ~80,000 objects that live as long as the server (aiohttp, the products' modules, the
    # specs, the world): the cyclic collector would scan the growing heap again and again while they are
    # made, ~30 ms of CPU. It waits until they are built, which are then frozen out of its sight. The
    # cycles the build left behind (~2,400 objects, ~0.7 MB: chiefly the classes `slots=True` replaced)
    # are frozen with them and never freed: collecting them first would cost what the pause saves.
    collecting = gc.isenabled()
    gc.disable()
    try:
        app, lines, sock = _build(args)
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    from aiohttp import web

    from .engine.middleware import server_options

    # run_app calls `print` once every site has started, so the banner never precedes the socket.
    web.run_app(app, sock=sock, print=lambda _: print("\n".join(lines), flush=True), access_log=None,
                **server_options())
    return 0


def _build(args: argparse.Namespace) -> tuple[web.Application, list[str], socket.socket]:
    """The app `serve` runs, its banner, and its listening socket; CliError for what the flags refuse."""
    from .app import create_app
    from .engine.keys import WORLD_KEY
    from .engine.product import WorldError
    from .engine.snapshot import SnapshotError
    from .engine.worldfile import describe_world_error

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.world is not None and args.world.is_dir():
        raise CliError(f"world file {args.world} is a folder; --world takes a YAML file")
    if args.world is not None and not args.world.is_file():
        raise CliError(f"world file {args.world} does not exist (--world takes a YAML file; leave it out to "
                       "serve the bundled world)")
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port takes a port from 1 to 65535 (0 picks a free one), got {args.port}")
    if args.public_origin is not None and not is_origin(args.public_origin):
        raise CliError("--public-origin takes the origin clients use, scheme and host with an optional port "
                       f"(e.g. http://emulator:8787), got {args.public_origin!r}")
    products = _products(args.products)
    sock = listen(args.host, args.port)
    port = int(sock.getsockname()[1])
    wildcard = args.host in ("0.0.0.0", "::", "")
    local = f"http://{'127.0.0.1' if wildcard else args.host}:{port}"
    # Listening on every interface, clients reach it under names only they know: the origin then
    # follows each request's Host header (checkout URLs, settings.custom_domain).
    origin = (args.public_origin or "").rstrip("/") or (None if wildcard else local)
    config = EmulatorConfig(world=args.world, id_seed=args.id_seed, public_origin=origin, products=products,
                            checkout_urls=args.checkout_urls, strict_responses=args.strict_responses,
                            control_token=args.control_token, state_file=args.state,
                            limits=Limits(events=args.max_events, deliveries=args.max_deliveries,
                                          analytics=args.max_analytics, ledger=args.max_ledger,
                                          checkouts=args.max_checkouts, mailbox=args.max_mailbox))
    if wildcard and not args.control_token:
        print(f"paywall-emulator: warning: listening on {args.host or 'every interface'}: anyone who can reach "
              "this port can reset the world and read its keys through the unauthenticated control API "
              "(/_emulator); pass --control-token to require a token", file=sys.stderr, flush=True)
    try:
        app = create_app(config)
    except WorldError as exc:
        sock.close()
        raise CliError(describe_world_error(args.world, exc) if args.world is not None else str(exc)) from None
    except SnapshotError as exc:  # a corrupt or foreign state file: refused whole, never half-loaded
        sock.close()
        raise CliError(str(exc)) from None
    world = app[WORLD_KEY]
    lines = banner(origin or local, "" if origin else " (origin: each request's Host)",
                   [(p.title, p.banner(world.states[p.name])) for p in world.products], token=args.control_token)
    return app, lines, sock


def banner(shown: str, note: str, products: Sequence[tuple[str, Sequence[str]]], *,
           token: str | None = None) -> list[str]:
    from urllib.parse import quote

    lines = [f"paywall-emulator serving {shown}{note}",
             f"  control API  {shown}/_emulator" + (" (needs the X-Emulator-Token header)" if token else ""),
             f"  inspector    {shown}/_emulator/" + (f"?token={quote(token, safe='')}" if token else "")]
    for title, product_lines in products:
        lines.append(f"  {title}")
        lines.extend(f"  {line}" for line in product_lines)
    return lines


if __name__ == "__main__":
    sys.exit(main())
