"""`paywall-emulator diff`: one product's read-only tier (`--product`: monetize, paykit or paywalls-ai)
against the bundled emulator (in a thread; or another target given with --reference-url) and a
deployment, with the same identities, printing per operation the differences in status, machine code,
fields and types side by side (`contract_tests.parity` does the work). Exit status 0 when both agree, 1
when they differ, 2 when it is refused (one line on stderr, as every command of the CLI).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cli import USAGE_ERROR
from .contract_tests.settings import EMULATOR_DEFAULTS, PAYWALLS_AI_DEFAULTS

# The bundled world's key (the reference's, unless --reference-key) and end user, per product.
REFERENCE_KEYS = {"monetize": EMULATOR_DEFAULTS["api_key"], "paykit": EMULATOR_DEFAULTS["paykit_publishable_key"],
                  "paywalls-ai": PAYWALLS_AI_DEFAULTS["api_key"]}
DEFAULT_USERS = {"paykit": "alice", "paywalls-ai": "alice"}  # proj_studio's Pro user; pw_demo's funded user


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--product", choices=tuple(REFERENCE_KEYS), default="monetize",
                        help="whose API to compare (default: monetize)")
    parser.add_argument("--base-url", required=True, help="the deployment to compare")
    parser.add_argument("--api-key", required=True,
                        help="its key (only GET requests are sent): monetize's owner key, a PayKit project's "
                             "publishable key, a Paywalls.ai paywall's secret key")
    parser.add_argument("--reference-url", default=None, help="compare against this target instead of the "
                                                              "bundled emulator started in a thread")
    parser.add_argument("--reference-key", default=None, help="the reference's API key (default: the bundled "
                                                              "world's key, or --api-key with --reference-url)")
    for name, dest in (("--paywall-id", "paywall_id"), ("--email", "email"), ("--other-id", "other_id"),
                       ("--foreign-id", "foreign_id"), ("--tokenized-id", "tokenized_id")):
        parser.add_argument(name, dest=dest, default=None,
                            help=f"monetize: the same on both sides (default: the bundled world's "
                                 f"{EMULATOR_DEFAULTS[dest]})")
    parser.add_argument("--user", default=None,
                        help="PayKit or Paywalls.ai: an existing end user, the same on both sides (default: the "
                             "bundled world's alice; PayKit opens an account for a user id it has not seen)")


def run(args: argparse.Namespace) -> int:
    try:
        import requests  # noqa: F401  (the contract extra)
    except ImportError:
        sys.stderr.write("paywall-emulator diff: needs the contract extra: pip install 'paywall-emulator[contract]'\n")
        return USAGE_ERROR
    from .contract_tests import parity

    product = args.product
    if product == "monetize":
        ids = parity.Identities(**{k: getattr(args, k) or EMULATOR_DEFAULTS[k]
                                   for k in ("paywall_id", "email", "other_id", "foreign_id", "tokenized_id")})
    else:
        ids = parity.Identities(user=args.user or DEFAULT_USERS[product])
    stop = None
    if args.reference_url:
        reference = (args.reference_url, args.reference_key or args.api_key)
    else:
        from .config import EmulatorConfig
        from .testing import ThreadedEmulator

        emu = ThreadedEmulator(EmulatorConfig(products=(product,))).start()
        stop = emu.stop
        reference = (emu.base_url, args.reference_key or REFERENCE_KEYS[product])
    try:
        diffs = parity.run(reference, (args.base_url, args.api_key), ids, product)
    except OSError as exc:
        sys.stderr.write(f"paywall-emulator diff: {unreachable(exc, args)}\n")
        return USAGE_ERROR
    finally:
        if stop is not None:
            stop()
    names = (args.reference_url or "emulator", args.base_url)
    sys.stdout.write(parity.render(diffs, ids, names, product) + "\n")
    return 1 if diffs else 0


def unreachable(exc: OSError, args: argparse.Namespace) -> str:
    """One line for a target that did not answer: its origin, the operating system's reason (not the HTTP
    library's nested repr) and the flag that named it."""
    import re
    from urllib.parse import urlsplit

    url = str(getattr(getattr(exc, "request", None), "url", None) or args.base_url)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    flag = "--reference-url" if args.reference_url and url.startswith(args.reference_url.rstrip("/")) else "--base-url"
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    reason = found[-1].strip() if found else type(exc).__name__
    return f"cannot reach {origin} ({reason}); is it running, and is {flag} right?"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paywall-emulator diff")
    add_arguments(parser)
    return run(parser.parse_args(argv))
