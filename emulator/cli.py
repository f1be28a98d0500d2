"""The `paywall-emulator` command line: `serve`, `spec` and `conform` (the contract suite, `conform.py`).

Owns argument parsing and the startup banner; building the app is `app.create_app`'s job.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import EmulatorConfig, Limits


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def build_parser(*, conform: bool = True) -> argparse.ArgumentParser:
    """The command line; `conform=False` leaves the contract suite's options out (and its module
    unimported), which `main` does for every other command: `serve` starts faster."""
    parser = argparse.ArgumentParser(prog="paywall-emulator",
                                     description="Local emulator of the monetize.software billing API")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the emulator over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--world", type=Path, default=None,
                       help="world file (YAML, one section per product; default: the bundled world)")
    serve.add_argument("--id-seed", type=int, default=0, help="seed of the id generators (default: 0)")
    serve.add_argument("--public-origin", default=None,
                       help="origin clients use (bootstrap's settings.custom_domain); default http://HOST:PORT")
    serve.add_argument("--checkout-urls", choices=("hosted", "acquirer"), default="hosted",
                       help="hosted: the emulator's own checkout pages; acquirer: acquirer-shaped URLs")
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
                            "(the hosted pages excepted); default: none")
    limits = Limits()
    for name, what in (("events", "events in the event log (the webhook outbox)"),
                       ("deliveries", "finished webhook deliveries"), ("analytics", "ingested analytics events")):
        serve.add_argument(f"--max-{name}", type=_positive, default=getattr(limits, name), metavar="N",
                           help=f"keep at most about N {what}; the oldest are evicted and counted "
                                f"(default: {getattr(limits, name)})")
    serve.add_argument("--log-level", default="WARNING")
    spec = sub.add_parser("spec", help="print the path of a bundled OpenAPI document")
    spec.add_argument("which", nargs="?", default="monetize",
                      help="a product name (its public API), 'control', or '<product>.control'")
    suite = sub.add_parser("conform", help="run the contract suite against the emulator or a deployment")
    if conform:
        from .conform import add_arguments as add_conform_arguments

        add_conform_arguments(suite)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(conform=argv[:1] == ["conform"]).parse_args(argv)
    if args.command == "spec":
        from .app import PRODUCTS
        from .engine.openapi import CONTROL_SPEC, spec_path

        files = {"control": CONTROL_SPEC, "public": PRODUCTS[0].spec}
        for product in PRODUCTS:
            files[product.name] = product.spec
            if product.control_spec:
                files[f"{product.name}.control"] = product.control_spec
        if args.which not in files:
            print(f"paywall-emulator spec: unknown document {args.which!r}; one of {', '.join(files)}",
                  file=sys.stderr)
            return 2
        print(spec_path(files[args.which]))
        return 0
    if args.command == "conform":
        from .conform import run

        return run(args)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from .app import create_app
    from .engine.keys import WORLD_KEY
    from .engine.middleware import server_options
    from .engine.snapshot import SnapshotError

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    wildcard = args.host in ("0.0.0.0", "::", "")
    local = f"http://{'127.0.0.1' if wildcard else args.host}:{args.port}"
    # Listening on every interface, clients reach it under names only they know: the origin then
    # follows each request's Host header (checkout URLs, settings.custom_domain).
    origin = args.public_origin or (None if wildcard else local)
    config = EmulatorConfig(world=args.world, id_seed=args.id_seed, public_origin=origin,
                            checkout_urls=args.checkout_urls, strict_responses=args.strict_responses,
                            control_token=args.control_token, state_file=args.state,
                            limits=Limits(events=args.max_events, deliveries=args.max_deliveries,
                                          analytics=args.max_analytics))
    if wildcard and not args.control_token:
        print(f"paywall-emulator: warning: listening on {args.host or 'every interface'}: anyone who can reach "
              "this port can reset the world and read its keys through the unauthenticated control API "
              "(/_emulator); pass --control-token to require a token", file=sys.stderr, flush=True)
    try:
        app = create_app(config)
    except SnapshotError as exc:  # a corrupt or foreign state file: refused whole, never half-loaded
        print(f"paywall-emulator: {exc}", file=sys.stderr)
        return 2
    world = app[WORLD_KEY]
    shown = origin or local
    lines = [f"paywall-emulator serving {shown}" + ("" if origin else " (origin: each request's Host)"),
             f"  control API: {shown}/_emulator"]
    for product in world.products:
        lines.append(f"  {product.title}:")
        lines.extend(product.banner(world.states[product.name]))

    async def announce(_app: web.Application) -> None:
        print("\n".join(lines), flush=True)

    app.on_startup.append(announce)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None, **server_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
