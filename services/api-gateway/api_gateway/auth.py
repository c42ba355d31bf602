"""Admin authentication: an admin JWT or the proxy shared secret.

Admin JWTs: HS256 with ADMIN_JWT_SECRET (the tokens POST /api/auth/login mints, and
an identity provider's that share the secret), or RS256/ES256 verified against the
identity provider's JWKS (ADMIN_JWKS_URL). The algorithm picks the key, so a public
key is never taken for an HMAC secret; `iss` must be ADMIN_JWT_ISSUER when set (the
gateway's own tokens carry `outreach`); a token may live at most ADMIN_TOKEN_MAX_SECONDS.

What a route requires is what the route table (api_gateway.routes) declares
for it, the same declaration the OpenAPI document shows: "admin" takes an
admin JWT or the proxy secret, "proxy" the proxy secret only, "none" nothing.
The middleware looks the matched route up; routes outside the table are the
public ones (health, metrics, the spec, the admin app's static files), and
tests/unit/test_architecture.py keeps that list closed. 401: no or invalid
credentials; 403: a valid token of someone who is not an admin.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

import jwt
from aiohttp import web

from api_gateway.api_keys import ApiKey, looks_like_key
from api_gateway.jwks import ASYMMETRIC, JwksKeys, KeysUnavailable
from shared.errors import ApiError
from shared.ratelimit import RateLimiter

Auth = Literal["admin", "proxy", "none"]
BEARER = "bearer "
# What each registered route requires, filled by api_gateway.routes.register.
ROUTE_AUTH = web.AppKey("route_auth", dict)
ROUTE_SCOPE = web.AppKey("route_scope", dict)  # the API key scope each route needs


# The `iss` of the tokens POST /api/auth/login mints; they carry the admin's token version.
OWN_ISSUER = "outreach"


@dataclass(frozen=True)
class Principal:
    kind: str  # "admin" (a JWT), "service" (the proxy secret) or "api_key"
    subject: str  # the token's sub / email, "proxy", or "api-key:<name>"
    # For a token this service minted: whose it is and its version (sign-out revokes).
    admin_id: uuid.UUID | None = None
    token_version: int | None = None
    api_key: ApiKey | None = None


PRINCIPAL = web.RequestKey("principal", Principal)


@dataclass(frozen=True)
class AuthConfig:
    jwt_secret: str
    proxy_secret: str
    audience: str
    role_claim: str
    role_value: str
    leeway_seconds: int
    issuer: str | None = None  # an identity provider's `iss`, required of its tokens when set
    max_lifetime_seconds: int = 86_400
    keys: JwksKeys | None = None  # the identity provider's JWKS, for RS256 and ES256


AUTH_CONFIG = web.AppKey("auth_config", AuthConfig)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def claim_at(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


async def signing_key(token: str, config: AuthConfig) -> tuple[str, Any]:
    """(algorithm, key) chosen by the token's header: HS256 takes the secret, RS256 and
    ES256 a JWKS key of that same algorithm; anything else is refused."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise _unauthorized("The token is invalid.") from None
    algorithm = header.get("alg")
    if algorithm == "HS256":
        return algorithm, config.jwt_secret
    if algorithm not in ASYMMETRIC or config.keys is None:
        raise _unauthorized("The token is invalid (its algorithm is not accepted).")
    try:
        key = await config.keys.key_for(header.get("kid"))
    except KeysUnavailable:
        raise ApiError(
            503, "unavailable", "The identity provider's keys cannot be fetched; retry shortly.",
            headers={"Retry-After": "5"},
        ) from None  # fmt: skip
    if key is None or key.algorithm_name != algorithm:
        raise _unauthorized("The token is invalid (signed by a key the identity provider does not publish).")
    return algorithm, key.key


async def verify_admin_token(token: str, config: AuthConfig) -> Principal:
    """exp, iat and aud required; neither 'none' nor an algorithm confusion gets through."""
    algorithm, key = await signing_key(token, config)
    try:
        claims = jwt.decode(
            token, key, algorithms=[algorithm], audience=config.audience,
            leeway=timedelta(seconds=config.leeway_seconds), options={"require": ["exp", "aud", "iat"]},
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise _unauthorized("The token has expired.") from None
    except jwt.InvalidAudienceError:
        raise _unauthorized("The token is not meant for this service (audience).") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("The token is invalid.") from None
    own = algorithm == "HS256" and claims.get("iss") == OWN_ISSUER
    if not own and config.issuer is not None and claims.get("iss") != config.issuer:
        raise _unauthorized("The token is not from the configured identity provider (issuer).")
    if claims["exp"] - claims["iat"] > config.max_lifetime_seconds:
        raise _unauthorized(
            f"The token lives longer than {config.max_lifetime_seconds} s (ADMIN_TOKEN_MAX_SECONDS)."
        )
    if claim_at(claims, config.role_claim) != config.role_value:
        raise ApiError(403, "forbidden", "This account is not an admin.")
    subject = str(claims.get("email") or claims.get("sub") or "admin")
    if not own:
        return Principal("admin", subject)
    try:
        admin_id, version = uuid.UUID(str(claims.get("sub"))), int(claims.get("ver", 0))
    except (ValueError, TypeError):
        raise _unauthorized("The token is invalid.") from None
    return Principal("admin", subject, admin_id=admin_id, token_version=version)


def secret_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Lookups(Protocol):
    """What authentication reads beyond the token itself (the database, in the app)."""

    async def token_version(self, request: web.Request, admin_id: uuid.UUID) -> int | None: ...

    async def api_key(self, request: web.Request, key: str) -> ApiKey | None: ...

    def failures(self, request: web.Request) -> RateLimiter: ...

    def client(self, request: web.Request) -> str: ...


async def authenticate(
    request: web.Request, required: Auth, config: AuthConfig, lookups: Lookups
) -> Principal:
    """The caller, for a route that requires `required` ("admin" or "proxy")."""
    headers = request.headers
    proxy = headers.get("X-Proxy-Secret")
    if proxy is not None:
        if secret_matches(proxy, config.proxy_secret):
            return Principal("service", "proxy")
        raise _guessed(request, lookups, "The proxy secret is wrong.")
    if required == "proxy":
        raise _unauthorized("This route takes the proxy secret (X-Proxy-Secret).")
    authorization = headers.get("Authorization", "")
    if not authorization.lower().startswith(BEARER):
        raise _unauthorized("Send Authorization: Bearer <admin token or API key> or X-Proxy-Secret.")
    credential = authorization[len(BEARER) :].strip()
    if looks_like_key(credential):
        key = await lookups.api_key(request, credential)
        if key is None:
            raise _guessed(request, lookups, "The API key is unknown or revoked.")
        return Principal("api_key", f"api-key:{key.name}", api_key=key)
    principal = await verify_admin_token(credential, config)
    admin_id = principal.admin_id
    if admin_id is not None and await lookups.token_version(request, admin_id) != principal.token_version:
        raise _unauthorized("The token was revoked (signed out, or the password changed).")
    return principal


def _guessed(request: web.Request, lookups: Lookups, message: str) -> ApiError:
    """A wrong proxy secret or API key: counted per client like failed sign-ins."""
    lookups.failures(request).record(lookups.client(request))
    return _unauthorized(message)


def too_many_attempts(wait: float, message: str) -> ApiError:
    """429 with the seconds until the next attempt may be made."""
    return ApiError(429, "too_many_attempts", message, headers={"Retry-After": str(int(wait) + 1)})


def auth_middleware(config: AuthConfig, lookups: Lookups) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Decide by the route that matched, not the raw path: no spelling of a
        # path reaches a protected view without passing here.
        required = required_auth(request)
        if required != "none":
            wait = lookups.failures(request).blocked(lookups.client(request))
            if wait is not None:
                raise too_many_attempts(
                    wait, "Too many wrong credentials from this address; try again later."
                )
            principal = await authenticate(request, required, config, lookups)
            if principal.api_key is not None:
                needed = request.app[ROUTE_SCOPE].get(request.match_info.route)
                if not principal.api_key.allows(needed):
                    raise ApiError(
                        403, "forbidden", f"This API key lacks the scope {needed or 'for this route'}."
                    )
            request[PRINCIPAL] = principal
        return await handler(request)

    return middleware


def required_auth(request: web.Request) -> Auth:
    """What the matched route declared; "none" for the public routes outside the table."""
    declared: Auth = request.app[ROUTE_AUTH].get(request.match_info.route, "none")
    return declared


def actor(request: web.Request) -> str:
    return request[PRINCIPAL].subject
