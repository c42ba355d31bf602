from __future__ import annotations

import pytest

from shared import db


@pytest.fixture
async def backends(make_database, make_vhost):
    """A database and vhost of the test's own: senders count everything they see."""
    database_url, amqp_url = await make_database(), await make_vhost()
    async with db.pool_context(database_url) as pool:
        yield database_url, amqp_url, pool
