"""The same-run reference of the HTTP benchmarks: a bare aiohttp handler that parses the
body (JSON, or a form) and answers 200, nothing else (no database, no broker, no middleware).

    BARE_HTTP_PORT=8099 python -m bench.bare_http
"""

from __future__ import annotations

import json
import os

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    if request.content_type == "application/json":
        json.loads(await request.read())
    else:
        await request.post()
    return web.json_response({"accepted": True})


async def ready(_: web.Request) -> web.Response:
    return web.json_response({"ready": True})


def main() -> None:
    app = web.Application()
    app.router.add_get("/readyz", ready)
    app.router.add_post("/{tail:.*}", accept)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["BARE_HTTP_PORT"]), print=None, access_log=None)


if __name__ == "__main__":
    main()
