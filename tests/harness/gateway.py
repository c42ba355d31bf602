"""The api-gateway app in-process over real backends, with credentials for each role."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
from aiohttp.test_utils import TestClient, TestServer

from api_gateway.app import create_app
from api_gateway.settings import GatewaySettings
from tests.harness.roles import as_service

JWT_SECRET = "test-admin-jwt-secret-0123456789abcdef"
PROXY_SECRET = "test-proxy-secret-0123456789"
# SUPPRESSION_HASH_KEY of the suites: tests hash an address with it as the gateway does.
ADDRESS_KEY = b"test-suppression-hash-key-0123456789"
FROM_EMAIL = "outreach@example.com"
PUBLIC_BASE_URL = "https://links.example.com"
POSTAL_ADDRESS = "Outreach Test Ltd | 1 Test Street | Testville TS1 1AA"


def gateway_settings(database_url: str, amqp_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": database_url, "amqp_url": amqp_url, "admin_jwt_secret": JWT_SECRET,
        "suppression_hash_key": ADDRESS_KEY.decode(),
        "proxy_shared_secret": PROXY_SECRET, "ses_from_email": FROM_EMAIL, "public_base_url": PUBLIC_BASE_URL,
        # What `make run` and the browser suite run with: the local SES emulator.
        "ses_mode": "emulator", "ses_endpoint_url": "http://127.0.0.1:4566", "sender_postal_address": POSTAL_ADDRESS,
    }  # fmt: skip
    values = {**values, **overrides}
    return GatewaySettings(**{**values, "database_url": as_service(values["database_url"], "api-gateway")})


def token(
    *,
    role: str | None = "admin",
    audience: str = "authenticated",
    expires_in: int = 3600,
    secret: str = JWT_SECRET,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    payload: dict[str, Any] = {
        "sub": "user-1", "email": "admin@example.com", "aud": audience,
        "exp": int(time.time()) + expires_in, "iat": int(time.time()), **claims,
    }  # fmt: skip
    if role is not None:
        payload["app_metadata"] = {"role": role}
    return jwt.encode(payload, secret, algorithm=algorithm)


ADMIN = {"Authorization": f"Bearer {token()}"}
PROXY = {"X-Proxy-Secret": PROXY_SECRET}


@asynccontextmanager
async def gateway(database_url: str, amqp_url: str, **overrides: Any) -> AsyncIterator[TestClient]:
    app = create_app(gateway_settings(database_url, amqp_url, **overrides))
    async with TestClient(TestServer(app)) as client:
        yield client
