from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from event_ingest.app import create_app
from event_ingest.settings import EventIngestSettings
from shared import db
from tests.harness.roles import as_service

SECRET = "webhook-secret-0123456789"


@pytest.fixture
async def ingest(make_database, make_vhost):
    """event-ingest in-process on a fresh database and vhost: (test client, pool)."""
    database_url, amqp_url = await make_database(), await make_vhost()
    settings = EventIngestSettings(
        database_url=as_service(database_url, "event-ingest"), amqp_url=amqp_url, ses_webhook_secret=SECRET
    )
    async with TestClient(TestServer(create_app(settings))) as client, db.pool_context(database_url) as pool:
        yield client, pool
