"""Raw SES payloads and refused bodies are deleted once past RAW_EVENT_RETENTION_DAYS."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from event_ingest.adapters.store import delete_expired
from event_ingest.app import create_app
from event_ingest.settings import EventIngestSettings
from shared import db
from tests.harness.roles import as_service
from tests.integration.ingest.conftest import SECRET

pytestmark = pytest.mark.integration


async def seed(pool, days_ago: int, count: int) -> None:
    for _ in range(count):
        await pool.execute(
            "INSERT INTO ses_events_raw (eventbridge_id, detail_type, payload, received_at)"
            " VALUES ($1, 'SES Delivery', '{}'::jsonb, now() - make_interval(days => $2))",
            str(uuid.uuid4()), days_ago,
        )  # fmt: skip
        await pool.execute(
            "INSERT INTO rejected_payloads (source, reason, body, received_at)"
            " VALUES ('ses-events', 'test', 'x'::bytea, now() - make_interval(days => $1))",
            days_ago,
        )


async def remaining(pool) -> tuple[int, int]:
    return (await pool.fetchval("SELECT count(*) FROM ses_events_raw"),
            await pool.fetchval("SELECT count(*) FROM rejected_payloads"))  # fmt: skip


async def test_only_what_is_past_the_retention_is_deleted_in_batches(make_database):
    async with db.pool_context(await make_database()) as pool:
        await seed(pool, 31, 5)
        await seed(pool, 29, 3)
        deleted = await delete_expired(pool, 30, batch=2)
        assert deleted == {"ses_events_raw": 5, "rejected_payloads": 5}
        assert await remaining(pool) == (3, 3)
        assert await delete_expired(pool, 30) == {"ses_events_raw": 0, "rejected_payloads": 0}


async def test_the_service_purges_by_itself(make_database, make_vhost):
    database_url = await make_database()
    settings = EventIngestSettings(
        database_url=as_service(database_url, "event-ingest"), amqp_url=await make_vhost(), ses_webhook_secret=SECRET,
        raw_event_retention_days=7, retention_interval_seconds=0.2,
    )  # fmt: skip
    async with db.pool_context(database_url) as pool:
        await seed(pool, 8, 2)
        await seed(pool, 1, 1)
        async with TestClient(TestServer(create_app(settings))), asyncio.timeout(30):
            while await remaining(pool) != (1, 1):
                await asyncio.sleep(0.1)
            await seed(pool, 9, 1)  # and again on its next round
            while await remaining(pool) != (1, 1):
                await asyncio.sleep(0.1)
