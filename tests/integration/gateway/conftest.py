from __future__ import annotations

import pytest

from shared import db
from tests.harness.gateway import gateway


@pytest.fixture(scope="module")
async def gateway_db(make_database) -> str:
    """A database of the module's own, so counts and listings are exact."""
    return await make_database()


@pytest.fixture(scope="module")
async def client(gateway_db, amqp_url):
    async with gateway(gateway_db, amqp_url) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def gw_pool(gateway_db):
    async with db.pool_context(gateway_db) as pool:
        yield pool
