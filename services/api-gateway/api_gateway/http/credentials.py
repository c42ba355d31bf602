"""What the auth middleware reads from the database and the request, for the running gateway."""

from __future__ import annotations

import uuid

from aiohttp import web

from api_gateway.adapters import admins, api_keys
from api_gateway.api_keys import ApiKey
from api_gateway.http.context import pool
from api_gateway.http.sessions import CREDENTIAL_FAILURES, client_of
from shared.ratelimit import RateLimiter


class DatabaseLookups:
    async def token_version(self, request: web.Request, admin_id: uuid.UUID) -> int | None:
        return await admins.token_version(pool(request), admin_id)

    async def api_key(self, request: web.Request, key: str) -> ApiKey | None:
        return await api_keys.use(pool(request), key)

    def failures(self, request: web.Request) -> RateLimiter:
        return request.app[CREDENTIAL_FAILURES]

    def client(self, request: web.Request) -> str:
        return client_of(request)
