"""A small SES v2 stub speaking the REST-JSON wire format aiobotocore uses.

SendEmail (POST /v2/email/outbound-emails) and GetAccount (GET /v2/email/account),
with configurable latency and scripted errors: what moto cannot do (quota,
fault injection, load). Every accepted send is recorded with its arrival time.
Also what moto lacks of SES's safety nets: the account suppression list (Put and
paged List) and a configuration set's sending switch (a disabled set refuses sends).
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
from datetime import UTC, datetime
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
    # The account suppression list: address (as given: SES keeps its case) -> (reason, when).
    suppressed: dict[str, tuple[str, str]] = field(default_factory=dict)
    suppression_calls: int = 0
    page_size_max: int = 1000
    # Configuration sets whose sending is disabled, and each PutConfigurationSetSendingOptions.
    disabled_sets: set[str] = field(default_factory=set)
    sending_options: list[tuple[str, bool]] = field(default_factory=list)

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
        if body.get("ConfigurationSetName") in self.disabled_sets:
            return _error(400, "SendingPausedException", "Sending is paused for this configuration set.")
        self.received.append(Received(time.monotonic(), body))
        return web.json_response({"MessageId": f"stub-{uuid.uuid4()}"})

    async def get_account(self, _: web.Request) -> web.Response:
        if self.refusing is not None and self.refusing.status == 403:  # credentials refused: every call
            return _error(self.refusing.status, self.refusing.code, self.refusing.message)
        if self.account is None:
            return _error(404, "NotFoundException", "GetAccount is not available")
        return web.json_response(self.account)

    async def put_suppressed(self, request: web.Request) -> web.Response:
        self.suppression_calls += 1
        body = await request.json()
        if body.get("Reason") not in ("BOUNCE", "COMPLAINT") or "@" not in str(body.get("EmailAddress", "")):
            return _error(
                400, "BadRequestException", "EmailAddress and Reason (BOUNCE or COMPLAINT) are required"
            )
        self.suppressed[body["EmailAddress"]] = (body["Reason"], datetime.now(UTC).isoformat())
        return web.json_response({})

    async def list_suppressed(self, request: web.Request) -> web.Response:
        self.suppression_calls += 1
        reasons = request.query.getall("Reason", [])
        size = min(int(request.query.get("PageSize", 1000)), self.page_size_max)
        start = int(request.query.get("NextToken", "0"))
        rows = [(a, r, t) for a, (r, t) in sorted(self.suppressed.items()) if not reasons or r in reasons]
        page = rows[start : start + size]
        answer: dict[str, Any] = {
            "SuppressedDestinationSummaries": [
                {"EmailAddress": a, "Reason": r, "LastUpdateTime": t} for a, r, t in page
            ]
        }
        if start + size < len(rows):
            answer["NextToken"] = str(start + size)
        return web.json_response(answer)

    async def put_sending_options(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        enabled = bool((await request.json()).get("SendingEnabled", False))
        self.sending_options.append((name, enabled))
        (self.disabled_sets.discard if enabled else self.disabled_sets.add)(name)
        return web.json_response({})


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
    app.router.add_put("/v2/email/suppression/addresses", stub.put_suppressed)
    app.router.add_get("/v2/email/suppression/addresses", stub.list_suppressed)
    app.router.add_put("/v2/email/configuration-sets/{name}/sending", stub.put_sending_options)
    async with serving(app) as base_url:
        stub.endpoint_url = base_url
        yield stub
