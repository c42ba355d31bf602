"""Received mail in S3 (the receipt rule's S3 action): read once, then deleted there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config

from shared.settings import SesAccess

MAX_MAIL_BYTES = 40 * 1024**2  # SES receives mail up to 40 MB


@asynccontextmanager
async def s3_client(settings: SesAccess) -> AsyncIterator[Any]:
    """S3 in AWS_REGION, or the emulator's (SES_MODE=emulator: the same local endpoint)."""
    config = Config(
        retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
        s3={"addressing_style": "path"},
    )  # fmt: skip
    async with get_session().create_client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=str(settings.ses_endpoint_url) if settings.ses_endpoint_url else None,
        config=config,
    ) as client:
        yield client


class MailStore:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def read(self, bucket: str, key: str) -> bytes:
        response = await self._client.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as body:
            if int(response.get("ContentLength", 0)) > MAX_MAIL_BYTES:
                raise ValueError(f"s3://{bucket}/{key} is larger than {MAX_MAIL_BYTES} bytes")
            data: bytes = await body.read()  # to the end (a read of n bytes may answer fewer)
        return data

    async def delete(self, bucket: str, key: str) -> None:
        await self._client.delete_object(Bucket=bucket, Key=key)
