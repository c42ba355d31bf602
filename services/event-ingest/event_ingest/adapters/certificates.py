"""SNS signing certificates, fetched once per URL and kept: a burst of notifications
verifies against a key in memory, and one fetch serves every request waiting for it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from event_ingest.sns import CertificateUnavailable, Untrusted

MAX_CERTIFICATE_BYTES = 64 * 1024
KEEP_SECONDS = 24 * 3600.0
MAX_KEPT = 64  # SNS signs with one certificate per region at a time; rotations add a few


class CertificateCache:
    def __init__(self, session: aiohttp.ClientSession, *, timeout: float = 5.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._kept: dict[str, tuple[float, rsa.RSAPublicKey]] = {}
        self._fetching: dict[str, asyncio.Future[rsa.RSAPublicKey]] = {}
        self.fetches = 0

    async def key(self, url: str) -> rsa.RSAPublicKey:
        """The key of the certificate at `url` (already checked against the trusted pattern)."""
        kept = self._kept.get(url)
        if kept is not None and time.monotonic() - kept[0] < KEEP_SECONDS:
            return kept[1]
        pending = self._fetching.get(url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[rsa.RSAPublicKey] = asyncio.get_running_loop().create_future()
        self._fetching[url] = future
        try:
            key = await self._fetch(url)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._fetching.pop(url, None)
        future.set_result(key)
        if len(self._kept) >= MAX_KEPT:
            self._kept.pop(next(iter(self._kept)))
        self._kept[url] = (time.monotonic(), key)
        return key

    async def _fetch(self, url: str) -> rsa.RSAPublicKey:
        self.fetches += 1
        try:
            async with self._session.get(url, timeout=self._timeout, allow_redirects=False) as response:
                if response.status != 200:
                    raise CertificateUnavailable(f"HTTP {response.status} for the signing certificate")
                pem = await response.content.read(MAX_CERTIFICATE_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CertificateUnavailable(f"the signing certificate: {type(exc).__name__}") from None
        if len(pem) > MAX_CERTIFICATE_BYTES:
            raise Untrusted("the signing certificate is too large")
        return public_key(pem, datetime.now(UTC))


def public_key(pem: bytes, now: datetime) -> rsa.RSAPublicKey:
    """The RSA key of a PEM certificate valid at `now` (SNS signs with RSA)."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise Untrusted("the signing certificate is not a PEM certificate") from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Untrusted("the signing certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Untrusted("the signing certificate's key is not RSA")
    return key
