"""An identity provider's signing keys (a JWKS at ADMIN_JWKS_URL), for RS256 and ES256 admin tokens.

Fetched when first needed, cached, and fetched again when a token names a key id
the cache lacks (the provider rotated its keys), at most once per
`min_refresh_seconds` so a stream of made-up key ids cannot make the gateway
hammer the provider. Concurrent requests share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import jwt
from jwt import PyJWK

from shared.logging import get_logger

# What a key from the JWKS may sign with: never HS256 (a public key is no secret).
ASYMMETRIC = frozenset({"RS256", "ES256"})
log = get_logger(__name__)


class KeysUnavailable(Exception):
    """The JWKS could not be fetched or read."""


class JwksKeys:
    def __init__(
        self, url: str, *, timeout_seconds: float = 5.0, min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._failed = False
        self._lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    async def key_for(self, kid: str | None) -> PyJWK | None:
        """The signing key with this id (the only key, when the token names none)."""
        found = self._find(kid)
        if found is None and self._may_refresh():
            async with self._lock:
                if self._may_refresh():  # nobody fetched while this request waited
                    await self._fetch()
            found = self._find(kid)
        if found is None and self._failed and not self._keys:
            raise KeysUnavailable(f"the keys at {self.url} could not be fetched")
        return found

    def _find(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refresh

    async def _fetch(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.get(self.url, allow_redirects=False) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWKSetError) as exc:
            log.warning("the identity provider's keys could not be fetched", url=self.url, error=repr(exc))
            self._failed = True  # the keys known so far stay in use
            return
        finally:
            self._fetched_at = self._clock()
        self._failed = False
        self._keys = {
            key.key_id or f"#{i}": key for i, key in enumerate(keys) if key.algorithm_name in ASYMMETRIC
        }
        log.info("identity provider keys fetched", count=len(self._keys))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
