"""POST /api/auth/login: an Outreach admin signs in for an admin token."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from aiohttp import web

from api_gateway.adapters import admins as store
from api_gateway.admins import issue_token, password_matches
from api_gateway.auth import AUTH_CONFIG, PRINCIPAL, too_many_attempts
from api_gateway.http.context import pool, settings
from api_gateway.schemas import LoginRequest, LoginToken, SystemInfo
from api_gateway.settings import GatewaySettings
from shared.errors import ApiError
from shared.http import model_response
from shared.logging import get_logger
from shared.ratelimit import RateLimiter, client_address, parse_networks
from shared.requests import json_body
from shared.ses import ses_client
from shared.ses_account import read_account

LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
ACCOUNT_LIMITER = web.AppKey("account_limiter", RateLimiter)
# Wrong proxy secrets and unknown API keys, per client address (as failed sign-ins).
CREDENTIAL_FAILURES = web.AppKey("credential_failures", RateLimiter)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple)
log = get_logger(__name__)


class Busy(Exception):
    """Every password check is taken and the queue is full."""


class PasswordChecks:
    """argon2 off the event loop, at most `concurrent` at once and `waiting` more queued:
    a flood of sign-ins costs a bounded amount of memory and answers 503 past it."""

    def __init__(self, concurrent: int, waiting: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="argon2")
        self._capacity = concurrent + waiting
        self._in_flight = 0

    async def matches(self, password: str, stored_hash: str | None) -> bool:
        if self._in_flight >= self._capacity:
            raise Busy
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, password_matches, password, stored_hash
            )
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


HASHER_POOL = web.AppKey("hasher_pool", PasswordChecks)


def install_login_limits(app: web.Application, config: GatewaySettings) -> None:
    for key in (LOGIN_LIMITER, CREDENTIAL_FAILURES):
        app[key] = RateLimiter(
            config.login_rate_limit, config.login_rate_window_seconds, config.login_block_seconds
        )
    app[ACCOUNT_LIMITER] = RateLimiter(
        config.login_account_rate_limit, config.login_account_window_seconds, config.login_block_seconds
    )
    app[TRUSTED_PROXIES] = parse_networks(config.trusted_proxies)
    app[HASHER_POOL] = PasswordChecks(config.login_max_concurrent_hashes, config.login_max_waiting_hashes)

    async def close(app: web.Application) -> None:
        app[HASHER_POOL].close()

    app.on_cleanup.append(close)


def client_of(request: web.Request) -> str:
    """The client's address, X-Forwarded-For believed only from TRUSTED_PROXIES."""
    return client_address(
        request.remote, request.headers.get("X-Forwarded-For"), request.app[TRUSTED_PROXIES]
    )


def _too_many(wait: float) -> ApiError:
    return too_many_attempts(wait, "Too many sign-in attempts; try again later.")


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


async def logout(request: web.Request) -> web.Response:
    """Every token of the signed-in admin stops working at once (this tab's and any other)."""
    principal = request[PRINCIPAL]
    if principal.admin_id is None:
        raise ApiError(
            400, "not_revocable", "Only tokens from POST /api/auth/login are signed out here; "
            "sign out at your identity provider (or rotate the proxy secret).",
        )  # fmt: skip
    await store.revoke_tokens(pool(request), principal.admin_id)
    log.info("admin signed out", admin_id=str(principal.admin_id))
    return web.Response(status=204)


async def login(request: web.Request) -> web.Response:
    config = settings(request)
    client = client_of(request)
    wait = request.app[LOGIN_LIMITER].allow(client)
    if wait is not None:
        raise _too_many(wait)
    body = await json_body(request, LoginRequest)
    # Per account too, counting failures from any address; the same answer whether or not
    # the account exists, so the limit tells nobody which addresses are admins.
    account = body.email.lower()
    wait = request.app[ACCOUNT_LIMITER].blocked(account)
    if wait is not None:
        raise _too_many(wait)
    admin = await store.find_by_email(pool(request), body.email)
    stored_hash = admin["password_hash"] if admin is not None else None
    try:
        matches = await request.app[HASHER_POOL].matches(body.password, stored_hash)
    except Busy:
        raise ApiError(
            503, "busy", "Too many sign-ins at once; retry in a moment.", headers={"Retry-After": "1"}
        ) from None
    if admin is None or not matches:
        request.app[ACCOUNT_LIMITER].record(account)
        log.info("admin sign-in refused", client=client)
        raise ApiError(401, "invalid_credentials", "The email or password is wrong.")
    await store.signed_in(pool(request), admin["id"])
    issued = issue_token(
        admin["id"], admin["email"], request.app[AUTH_CONFIG], timedelta(seconds=config.admin_token_ttl_seconds),
        version=admin["token_version"],
    )  # fmt: skip
    log.info("admin signed in", admin_id=str(admin["id"]))
    return model_response(
        LoginToken(
            access_token=issued.token, expires_at=issued.expires_at, expires_in=issued.expires_in,
            email=admin["email"],
        )
    )  # fmt: skip
