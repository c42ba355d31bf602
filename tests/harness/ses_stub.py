"""A small SES v2 stub speaking the REST-JSON wire format aiobotocore uses.

SendEmail (POST /v2/email/outbound-emails) and GetAccount (GET /v2/email/account),
with configurable latency and scripted errors: what moto cannot do (quota,
fault injection, load). Every accepted send is recorded with its arrival time.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.harness.local_http import serving


@dataclass(frozen=True)
class Fault:
    """One scripted answer: an SES error, a 5xx, or a hang longer than the client waits."""

    code: str = ""
    status: int = 400
    message: str = "injected"
    hang_seconds: float = 0.0
    accept: bool = False  # for hangs: SES received the message before the client gave up


@dataclass
class Received:
    at: float
    body: dict[str, Any]

    @property
    def raw(self) -> str:
        return base64.b64decode(self.body["Content"]["Raw"]["Data"]).decode()

    @property
    def tags(self) -> dict[str, str]:
        return {t["Name"]: t["Value"] for t in self.body.get("EmailTags", [])}

    @property
    def to(self) -> list[str]:
        return list(self.body.get("Destination", {}).get("ToAddresses", []))


@dataclass
class SesStub:
    latency: float = 0.0
    account: dict[str, Any] | None = field(
        default_factory=lambda: {
            "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0},
            "SendingEnabled": True,
            "ProductionAccessEnabled": True,
            "EnforcementStatus": "HEALTHY",
        }
    )
    faults: deque[Fault] = field(default_factory=deque)
    # Every call answers this until it is cleared (credentials refused, say), after `faults`.
    refusing: Fault | None = None
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    endpoint_url: str = ""

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    async def send_email(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.json()
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.faults:
            fault = self.faults.popleft()
            if fault.hang_seconds:
                if fault.accept:
                    self.received.append(Received(time.monotonic(), body))
                await asyncio.sleep(fault.hang_seconds)
            return _error(fault.status, fault.code, fault.message)
        if self.refusing is not None:
            return _error(self.refusing.status, self.refusing.code, self.refusing.message)
        self.received.append(Received(time.monotonic(), body))
        return web.json_response({"MessageId": f"stub-{uuid.uuid4()}"})

    async def get_account(self, _: web.Request) -> web.Response:
        if self.refusing is not None and self.refusing.status == 403:  # credentials refused: every call
            return _error(self.refusing.status, self.refusing.code, self.refusing.message)
        if self.account is None:
            return _error(404, "NotFoundException", "GetAccount is not available")
        return web.json_response(self.account)


def _error(status: int, code: str, message: str) -> web.Response:
    if not code:
        return web.Response(status=status, text="upstream failure")
    return web.json_response(
        {"__type": code, "message": message}, status=status, headers={"x-amzn-ErrorType": code}
    )


@asynccontextmanager
async def running_stub(**options: Any) -> AsyncIterator[SesStub]:
    stub = SesStub(**options)
    app = web.Application(client_max_size=20 * 1024**2)
    app.router.add_post("/v2/email/outbound-emails", stub.send_email)
    app.router.add_get("/v2/email/account", stub.get_account)
    async with serving(app) as base_url:
        stub.endpoint_url = base_url
        yield stub
