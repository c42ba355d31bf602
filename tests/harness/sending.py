"""Seeding prospects and campaigns, running senders, and waiting for campaigns."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiohttp.test_utils import TestServer

from api_gateway import campaigns as gateway_campaigns
from sender.app import CLOCK, RUNNER, create_app
from sender.settings import SenderSettings
from sender.work import Clock
from shared.lifecycle import campaign as campaigns
from tests.harness.gateway import ADDRESS_KEY, POSTAL_ADDRESS
from tests.harness.roles import as_service

FROM_EMAIL = "outreach@example.com"
PUBLIC_BASE_URL = "https://links.example.com"
TEMPLATE = {
    "name": "Test campaign",
    "subject": "Hello {{ first_name }}",
    "body_html": '<p>Hi {{ first_name }} {{last_name}}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    "body_text": "Hi {{ first_name }} {{ last_name }}\nUnsubscribe: {{ unsubscribe_url }}",
    "from_email": FROM_EMAIL,
    "from_name": "Outreach",
    "reply_to": "replies@example.com",
}


async def seed_prospects(
    pool: asyncpg.Pool, count: int, *, prefix: str | None = None, status: str = "active"
) -> list[asyncpg.Record]:
    prefix = prefix or uuid.uuid4().hex[:8]
    return await pool.fetch(
        """
        INSERT INTO prospects (email, email_hash, first_name, last_name, status)
        SELECT e, outreach_email_hash(e, k.ipad, k.opad), 'First' || g, 'Last' || g, $3
        FROM (SELECT g, $1 || '-' || g || '@recipients.example' AS e FROM generate_series(1, $2) g) s,
             outreach_hmac_pads($4) k
        ORDER BY g
        RETURNING id, email, first_name, last_name, seq
        """,
        prefix,
        count,
        status,
        ADDRESS_KEY,
    )


async def seed_campaign(pool: asyncpg.Pool, **overrides: Any) -> uuid.UUID:
    row = await campaigns.insert(pool, {**TEMPLATE, **overrides})
    return row["id"]


RULES = gateway_campaigns.CampaignRules(
    ses_from_email=FROM_EMAIL, public_base_url=PUBLIC_BASE_URL, postal_address=POSTAL_ADDRESS
)


async def request_send(pool: asyncpg.Pool, campaign_id: uuid.UUID, rules: Any = RULES) -> str:
    """The admin's Send; answers its detail."""
    accepted = await gateway_campaigns.request_send(
        pool, campaign_id, rules, actor="test", correlation_id=str(uuid.uuid4())
    )
    return accepted.detail


async def campaign_status(pool: asyncpg.Pool, campaign_id: uuid.UUID) -> tuple[str, str | None]:
    row = await pool.fetchrow("SELECT status, status_reason FROM email_campaigns WHERE id = $1", campaign_id)
    return row["status"], row["status_reason"]


async def wait_for_status(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, *statuses: str, timeout: float = 60.0
) -> tuple[str, str | None]:
    async with asyncio.timeout(timeout):
        while True:
            status = await campaign_status(pool, campaign_id)
            if status[0] in statuses:
                return status
            await asyncio.sleep(0.05)


async def outcomes(pool: asyncpg.Pool, campaign_id: uuid.UUID) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT outcome, count(*) AS n FROM email_sends WHERE campaign_id = $1 GROUP BY outcome", campaign_id
    )
    return {row["outcome"]: row["n"] for row in rows}


def sender_settings(database_url: str, amqp_url: str, ses_endpoint: str, **overrides: Any) -> SenderSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "ses_mode": "emulator",
        "ses_endpoint_url": ses_endpoint,
        "ses_from_email": FROM_EMAIL,
        "public_base_url": PUBLIC_BASE_URL,
        "sender_postal_address": POSTAL_ADDRESS,
        "ses_configuration_set": "outreach-test",
        "send_rate_per_second": 50,
        "outbox_poll_seconds": 0.5,
        **overrides,
    }
    return SenderSettings(**{**values, "database_url": as_service(values["database_url"], "sender")})


@asynccontextmanager
async def running_sender(
    database_url: str, amqp_url: str, ses_endpoint: str, *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[TestServer]:
    """A sender app in this process (its consumer, relay and send loop), stopped at the end;
    `clock`: the time its schedule rules read (a test moves it)."""
    app = create_app(sender_settings(database_url, amqp_url, ses_endpoint, **overrides))
    if clock is not None:
        app[CLOCK] = clock
    server = TestServer(app)
    await server.start_server()
    try:
        yield server
    finally:
        server.app[RUNNER].shutdown()
        await server.close()
