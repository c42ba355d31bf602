"""GET and POST /api/unsubscribe: the page, its form, and RFC 8058 one-click."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.addresses import mask_email
from shared.http import DB_POOL, REQUEST_ID
from shared.ratelimit import RateLimiter, client_address
from unsubscribe import pages
from unsubscribe.adapters import store
from unsubscribe.domain import valid_token

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LIMITER = web.AppKey("rate_limiter", RateLimiter)
TRUSTED = web.AppKey("trusted_proxies", tuple)
ONE_CLICK = "One-Click"
SOMEONE = "this address"


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _invalid(token: str | None) -> web.Response | None:
    if not token:
        return html(pages.problem_page("This link is incomplete", "The unsubscribe link has no token. "
                                       "Please use the full link from the email."), 400)  # fmt: skip
    if not valid_token(token):
        return html(pages.problem_page("This link is not valid", "The unsubscribe link is damaged. "
                                       "Please use the full link from the email."), 400)  # fmt: skip
    return None


def _unknown() -> web.Response:
    return html(pages.problem_page("This link is not valid", "We could not find this unsubscribe link. "
                                   "Please use the full link from the email."), 404)  # fmt: skip


async def show(request: web.Request) -> web.Response:
    token = request.query.get("token")
    if (problem := _invalid(token)) is not None:
        return problem
    assert token is not None
    async with request.app[DB_POOL].acquire() as conn:
        found = await store.find(conn, token)
    if found is None:
        return _unknown()
    masked = mask_email(found.email) if found.email else SOMEONE
    return html(pages.confirm_page(token, masked, found.sender or "us"))


async def submit(request: web.Request) -> web.Response:
    form = await request.post()  # urlencoded or multipart alike
    one_click = form.get("List-Unsubscribe") == ONE_CLICK
    token = request.query.get("token") or _text(form.get("token"))
    if (problem := _invalid(token)) is not None:
        return problem if not one_click else web.Response(text="invalid link", status=problem.status)
    assert token is not None
    found = await store.opt_out(
        request.app[DB_POOL],
        token,
        source="one_click" if one_click else "form",
        correlation_id=request[REQUEST_ID],
    )
    if found is None:
        return _unknown() if not one_click else web.Response(text="unknown link", status=404)
    if one_click:
        return web.Response(text="Unsubscribed.\n")
    masked = mask_email(found.email) if found.email else SOMEONE
    return html(pages.done_page(masked, found.sender or "us"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The rate limit per client address, then the security headers on every answer."""
    response: web.StreamResponse
    limiter = request.app.get(LIMITER)
    client = client_address(request.remote, request.headers.get("X-Forwarded-For"), request.app[TRUSTED])
    wait = (
        limiter.allow(client) if limiter is not None and request.path.startswith("/api/unsubscribe") else None
    )
    if wait is not None:
        response = html(
            pages.problem_page("Too many requests", "Please wait a few minutes and try again."), 429
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
    else:
        response = await handler(request)
    response.headers["Content-Security-Policy"] = pages.CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response
