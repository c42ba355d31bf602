"""SES v2 for the sender: one SendEmail per call on the wire (ses_wire), never retried by a
library; GetAccount, the suppression list and the sending switch through aiobotocore."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiobotocore.session import get_session
from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

from sender.adapters.ses_wire import SendEmailWire, SesRefusal, send_email_body, send_email_wire
from sender.domain import SesOutcome, Verdict, account_fault, classify_error, redact
from sender.metrics import SES_CALL_SECONDS
from shared.logging import get_logger
from shared.ses import ses_client
from shared.settings import SesAccess

log = get_logger(__name__)
QUOTA_UNAVAILABLE = {"NotFoundException", "AccessDeniedException", "404", "403", "UnknownOperationException"}


@dataclass(frozen=True)
class QuotaReading:
    max_send_rate: float
    max_24_hour_send: float
    sent_last_24_hours: float
    sending_enabled: bool


class SesGateway:
    def __init__(
        self, client: Any, wire: SendEmailWire, *, configuration_set: str | None, timeout: float
    ) -> None:
        self._client = client
        self._wire = wire
        self._configuration_set = configuration_set
        self._timeout = timeout

    async def send_raw(self, raw: bytes, *, from_email: str, to: str, tags: dict[str, str]) -> SesOutcome:
        body = send_email_body(
            raw, from_email=from_email, to=to, tags=tags, configuration_set=self._configuration_set
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                message_id = await self._wire.send(body)
        except SesRefusal as refusal:
            message = redact(refusal.message, limit=500)
            return SesOutcome(
                classify_error(refusal.code, refusal.status, message, from_email), code=refusal.code,
                message=message, pause=account_fault(refusal.code, message, from_email),
            )  # fmt: skip
        except (NoCredentialsError, PartialCredentialsError):
            # Nothing was sent: the deployment lacks AWS credentials. Every send would fail alike.
            return SesOutcome(
                Verdict.PAUSE, code="NoCredentials", message="AWS credentials are missing",
                pause=account_fault("NoCredentials", None),
            )  # fmt: skip
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never made: SES cannot have received anything.
            return SesOutcome(Verdict.NOT_SENT, code=type(exc).__name__, message=redact(str(exc), 500))
        except Exception as exc:  # timeout, reset, anything mid-request: SES may have accepted
            return SesOutcome(
                Verdict.AMBIGUOUS, code=type(exc).__name__, message=redact(str(exc), 500) or "timeout"
            )
        finally:
            SES_CALL_SECONDS.observe(time.perf_counter() - started)
        return SesOutcome(Verdict.SENT, message_id=message_id)

    async def read_quota(self) -> QuotaReading | None:
        """The account's limits; None when GetAccount is unavailable (emulator, permissions)."""
        try:
            async with asyncio.timeout(self._timeout):
                account = await self._client.get_account()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in QUOTA_UNAVAILABLE or status in QUOTA_UNAVAILABLE:
                return None
            raise
        quota = account.get("SendQuota", {})
        return QuotaReading(
            max_send_rate=float(quota.get("MaxSendRate", -1)),
            max_24_hour_send=float(quota.get("Max24HourSend", -1)),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0)),
            sending_enabled=bool(account.get("SendingEnabled", True)),
        )

    async def put_suppressed(self, address: str, reason: str) -> str | None:
        """Put an address on the account's suppression list; None when done, else the error code
        (UNAVAILABLE among them: this account or emulator lacks the call)."""
        return await self._call("put_suppressed_destination", EmailAddress=address, Reason=reason)

    async def set_sending_enabled(self, enabled: bool) -> str | None:
        """Enable or disable sending on the configuration set; None when done, else the error."""
        if not self._configuration_set:
            return "no configuration set (SES_CONFIGURATION_SET) to switch"
        return await self._call(
            "put_configuration_set_sending_options",
            ConfigurationSetName=self._configuration_set, SendingEnabled=enabled,
        )  # fmt: skip

    async def _call(self, operation: str, **request: Any) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                await getattr(self._client, operation)(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            code = str(error.get("Code", "")) or status
            return f"{code}: {redact(str(error.get('Message', '')), 200)}".rstrip(": ")
        except Exception as exc:  # unreachable, timed out: told again at the next look
            return f"{type(exc).__name__}: {redact(str(exc), 200)}".rstrip(": ")
        return None


@asynccontextmanager
async def ses_gateway(
    settings: SesAccess, *, configuration_set: str | None, timeout: float, max_connections: int = 10
) -> AsyncIterator[SesGateway]:
    """The gateway to the SES the settings name (an emulator's endpoint or real AWS). The SDK's
    client and the wire share one session, so one credentials object, refreshed once."""
    session = get_session()
    async with ses_client(settings, session=session) as client:
        credentials = await session.get_credentials()  # the client's: the session keeps them
        async with send_email_wire(client, credentials, max_connections=max_connections) as wire:
            yield SesGateway(client, wire, configuration_set=configuration_set, timeout=timeout)
