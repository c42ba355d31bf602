"""The outbox relay publishes exactly the committed events, in store order, once each."""

from __future__ import annotations

import asyncio
import random

import pytest

from shared import db
from tests.harness.events import (
    append_events,
    collecting,
    running_relays,
    sample_event,
    store_order,
)
from tests.harness.vhosts import close_connections

pytestmark = pytest.mark.integration


async def write_concurrently(pool, *, writers: int = 8, transactions: int = 15) -> tuple[set[str], set[str]]:
    """Many writers append 1-3 events per transaction; one in four rolls back."""
    committed: set[str] = set()
    rolled_back: set[str] = set()
    rng = random.Random(7)

    async def writer() -> None:
        for _ in range(transactions):
            events = [sample_event() for _ in range(rng.randint(1, 3))]
            commit = rng.random() >= 0.25
            await append_events(pool, events, commit=commit)
            (committed if commit else rolled_back).update(str(e.event_id) for e in events)
            await asyncio.sleep(rng.random() / 100)

    await asyncio.gather(*(writer() for _ in range(writers)))
    return committed, rolled_back


async def published_count(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events WHERE published_at IS NOT NULL")


@pytest.mark.parametrize("relays", [1, 2])
async def test_publishes_committed_events_in_order_once_each(make_database, make_vhost, relays):
    database_url, amqp_url = await make_database(), await make_vhost()
    async with (
        db.pool_context(database_url, max_size=12) as pool,
        collecting(amqp_url) as collector,
    ):
        async with running_relays(pool, database_url, amqp_url, relays=relays):
            committed, rolled_back = await write_concurrently(pool)
            await collector.wait_for(len(committed))
            await asyncio.sleep(1.0)  # a duplicate or a stray event would arrive by now

        assert collector.ids == await store_order(pool)
        assert len(collector.ids) == len(set(collector.ids)) == len(committed)
        assert set(collector.ids) == committed
        assert not rolled_back & set(collector.ids)
        assert await published_count(pool) == len(committed)


async def test_an_older_open_transaction_is_never_overtaken(make_database, make_vhost):
    """An event committed later but begun earlier is still published in store order."""
    database_url, amqp_url = await make_database(), await make_vhost()
    async with db.pool_context(database_url) as pool, collecting(amqp_url) as collector:
        async with running_relays(pool, database_url, amqp_url):
            slow = await pool.acquire()
            tx = slow.transaction()
            await tx.start()
            older = sample_event()
            from shared.event_store import append

            await append(slow, older)  # older transaction id, still open
            newer = sample_event()
            await append_events(pool, [newer])
            await asyncio.sleep(0.5)
            assert collector.ids == [], "the newer event must wait for the older transaction"
            await tx.commit()
            await pool.release(slow)
            await collector.wait_for(2)
        assert collector.ids == [str(older.event_id), str(newer.event_id)]


async def test_survives_a_broker_connection_drop(make_database, make_vhost, backend):
    database_url, amqp_url = await make_database(), await make_vhost()
    vhost = amqp_url.rsplit("/", 1)[1]
    async with (
        db.pool_context(database_url, max_size=12) as pool,
        collecting(amqp_url) as collector,
    ):
        async with running_relays(pool, database_url, amqp_url, name="relay-under-test"):
            writing = asyncio.create_task(write_concurrently(pool, writers=4, transactions=40))
            async with asyncio.timeout(20):
                while await published_count(pool) < 20:
                    await asyncio.sleep(0.05)
            closed = 0
            async with asyncio.timeout(20):  # the management API lists a connection after a moment
                while not closed:
                    closed = await close_connections(
                        backend.management_url,
                        vhost.replace("%2F", "/"),
                        connection_name="relay-under-test",
                    )
                    await asyncio.sleep(0.1)
            committed, _ = await writing
            await collector.wait_for(len(committed), timeout=60)
            await asyncio.sleep(1.0)

        order = await store_order(pool)
        first_seen = list(dict.fromkeys(collector.ids))
        assert first_seen == order, "every committed event, in store order"
        assert set(first_seen) == committed
        # Only events in flight when the connection dropped may be sent twice
        # (their confirm was lost); consumers dedupe them by event_id.
        duplicates = len(collector.ids) - len(first_seen)
        assert duplicates <= 50, f"{duplicates} duplicates: more than one batch in flight"
        assert await published_count(pool) == len(committed)
