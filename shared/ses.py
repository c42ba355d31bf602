"""The SES v2 client as every service builds it (aiobotocore)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiobotocore.session import AioSession, get_session
from botocore.config import Config

from shared.settings import SesAccess

# AWS refusing the credentials themselves (wrong, expired, unsigned): every call fails alike.
# The sender adds AccessDenied (no permission to send); for a read, that means IAM forbids it.
CREDENTIAL_REFUSALS = frozenset({
    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationToken",
    "IncompleteSignature",
})  # fmt: skip


CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 15


def client_config(max_pool_connections: int = 10) -> Config:
    # SendEmail has no idempotency token: an SDK retry after a lost answer could
    # send twice, so the SDK never retries and callers decide. Note: botocore's
    # `max_attempts` counts *retries* (max_attempts=1 still retries once);
    # `total_max_attempts` counts attempts, the first included.
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


@asynccontextmanager
async def ses_client(settings: SesAccess, *, session: AioSession | None = None) -> AsyncIterator[Any]:
    """An SES v2 client; SES_ENDPOINT_URL (an emulator) when set, else real AWS. Of `session`
    when given (whose credentials it then shares), else of a session of its own."""
    async with (session or get_session()).create_client(
        "sesv2",
        region_name=settings.aws_region,
        endpoint_url=str(settings.ses_endpoint_url) if settings.ses_endpoint_url else None,
        config=client_config(),
    ) as client:
        yield client
