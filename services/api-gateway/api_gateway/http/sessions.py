"""POST /api/auth/login: an Outreach admin signs in for an admin token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from api_gateway.adapters import admins as store
from api_gateway.admins import issue_token, password_matches
from api_gateway.auth import AUTH_CONFIG
from api_gateway.http.context import pool, settings
from api_gateway.schemas import LoginRequest, LoginToken, SystemInfo
from shared.errors import ApiError
from shared.http import model_response
from shared.logging import get_logger
from shared.ratelimit import RateLimiter, client_address, parse_networks
from shared.requests import json_body
from shared.ses import ses_client
from shared.ses_account import read_account

LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple)
log = get_logger(__name__)


def install_login_limiter(
    app: web.Application, limit: int, window: int, block: int, trusted_proxies: str
) -> None:
    app[LOGIN_LIMITER] = RateLimiter(limit, window, block)
    app[TRUSTED_PROXIES] = parse_networks(trusted_proxies)


async def system(request: web.Request) -> web.Response:
    config = settings(request)
    return model_response(
        SystemInfo(
            ses_mode=config.ses_mode, mail_goes_to=config.where_mail_goes(), aws_region=config.aws_region
        )
    )


async def ses_account(request: web.Request) -> web.Response:
    """The SES account as it is now: each read SES allows, `unknown` where it does not."""
    config = settings(request)
    async with ses_client(config) as client:
        return model_response(await read_account(client, config, config.ses_from_email))


async def login(request: web.Request) -> web.Response:
    config = settings(request)
    client = client_address(
        request.remote, request.headers.get("X-Forwarded-For"), request.app[TRUSTED_PROXIES]
    )
    wait = request.app[LOGIN_LIMITER].allow(client)
    if wait is not None:
        raise ApiError(
            429, "too_many_attempts", "Too many sign-in attempts; try again later.",
            headers={"Retry-After": str(int(wait) + 1)},
        )  # fmt: skip
    body = await json_body(request, LoginRequest)
    admin = await store.find_by_email(pool(request), body.email)
    stored_hash = admin["password_hash"] if admin is not None else None
    # argon2 takes tens of milliseconds of CPU by design: not on the event loop.
    matches = await asyncio.get_running_loop().run_in_executor(
        None, password_matches, body.password, stored_hash
    )
    if admin is None or not matches:
        log.info("admin sign-in refused", client=client)
        raise ApiError(401, "invalid_credentials", "The email or password is wrong.")
    await store.signed_in(pool(request), admin["id"])
    issued = issue_token(
        admin["id"],
        admin["email"],
        request.app[AUTH_CONFIG],
        timedelta(seconds=config.admin_token_ttl_seconds),
    )
    log.info("admin signed in", admin_id=str(admin["id"]))
    return model_response(
        LoginToken(
            access_token=issued.token, expires_at=issued.expires_at, expires_in=issued.expires_in,
            email=admin["email"],
        )
    )  # fmt: skip
