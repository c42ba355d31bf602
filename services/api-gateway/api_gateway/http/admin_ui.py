"""The admin web app at /admin: static files (no build step), served with a strict policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

ADMIN_DIR = Path(__file__).resolve().parent.parent / "admin"
# Scripts and styles from this origin only. Inline styles are allowed for the
# e-mail preview (an iframe's srcdoc inherits this policy; messages carry inline
# styles); no inline script runs anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(ADMIN_DIR / "index.html")


async def to_index(_: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/admin/")


@web.middleware
async def admin_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if request.path == "/admin" or request.path.startswith("/admin/"):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-cache"
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/admin", to_index)
    app.router.add_get("/admin/", index)
    app.router.add_static("/admin/", ADMIN_DIR, show_index=False, follow_symlinks=False)
    app.middlewares.append(admin_headers)
