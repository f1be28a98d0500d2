"""Reference servers for scripts/bench.py, each run as its own process on loopback.

`--mode bare` (default): a bare aiohttp app with the routes the bench drives — GET bootstrap answers
fixed JSON bytes (the emulator's own bootstrap answer, read from `--bootstrap FILE`), POST balances and
PayKit's POST meter parse the JSON body and answer a small JSON object. No middleware, no validation:
the floor the emulator is measured against. `--mode fake-provider`: the emulator's built-in fake OpenAI provider
served standalone (`emulator.fake_provider.create_app`), the direct-call reference of the gateway.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiohttp import web


def bare_app(bootstrap: bytes) -> web.Application:
    async def get_bootstrap(request: web.Request) -> web.Response:
        return web.Response(body=bootstrap, content_type="application/json")

    async def post_balances(request: web.Request) -> web.Response:
        body = await request.json()
        count = int(body.get("amount", 0))
        return web.json_response({"success": True, "user_id": str(body.get("email")), "type": body.get("type"),
                                  "count": count, "balances": [{"type": body.get("type"), "count": count}]})

    async def post_meter(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"ok": True, "remaining": len(str(body.get("userId")))})

    app = web.Application()
    app.router.add_get("/api/v1/paywall/{id}/bootstrap", get_bootstrap)
    app.router.add_post("/api/v1/paywall/{id}/balances", post_balances)
    app.router.add_post("/api/v1/meter", post_meter)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("bare", "fake-provider"), default="bare")
    parser.add_argument("--bootstrap", type=Path, default=None, help="bytes GET bootstrap answers (default {})")
    args = parser.parse_args()
    if args.mode == "fake-provider":
        from paywall_emulator.engine.fake_provider import create_app

        app = create_app()
    else:
        app = bare_app(args.bootstrap.read_bytes() if args.bootstrap else b"{}")
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
