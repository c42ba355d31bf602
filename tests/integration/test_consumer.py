"""The consumer runner: idempotent apply, dead-lettering with a reason, bounded retries."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest

from shared import db
from shared.consumer import PermanentError, apply_once
from shared.events import CampaignRequested, CampaignResumed, CampaignResumedData
from shared.topology import PROJECTOR
from tests.harness.consuming import consuming, publish_event, publish_raw
from tests.harness.events import sample_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def effects(make_database) -> AsyncIterator[asyncpg.Pool]:
    """A fresh database with a table the test handlers write to."""
    url = await make_database()
    async with db.pool_context(url) as pool:
        await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL, note text)")
        yield pool


async def record_effect(event: CampaignRequested, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.event_id)


async def effect_count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM effects")


async def next_dead_letter(channel, timeout: float = 10.0) -> aio_pika.abc.AbstractIncomingMessage:
    queue = await channel.get_queue(PROJECTOR.dead_letter_name)
    async with asyncio.timeout(timeout):
        while True:
            message = await queue.get(fail=False, no_ack=True)
            if message is not None:
                return message
            await asyncio.sleep(0.05)


async def wait_until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


async def test_apply_once_applies_a_duplicate_event_once(effects):
    event = sample_event()
    assert await apply_once(effects, "test", event, record_effect) is True
    assert await apply_once(effects, "test", event, record_effect) is False
    assert await effect_count(effects) == 1
    # Another consumer tracks its own applications.
    assert await apply_once(effects, "other", event, record_effect) is True


async def test_apply_once_rolls_back_tracking_when_the_handler_fails(effects):
    event = sample_event()

    async def failing(event, conn):
        await record_effect(event, conn)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await apply_once(effects, "test", event, failing)
    assert await effect_count(effects) == 0
    assert await apply_once(effects, "test", event, record_effect) is True


async def test_a_redelivered_event_changes_nothing(effects, make_vhost):
    amqp_url = await make_vhost()
    event = sample_event()
    async with consuming(amqp_url, effects, record_effect) as (exchange, _):
        await publish_event(exchange, event)
        await publish_event(exchange, event)
        await wait_until(lambda: _processed(effects, event.event_id))
        await asyncio.sleep(0.5)  # let the second copy be consumed too
    assert await effect_count(effects) == 1


async def _processed(pool, event_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM processed_events WHERE event_id = $1", event_id))


@pytest.mark.parametrize(
    ("body", "expected_error"),
    [
        (b"this is not json", "Expecting value"),
        (b'{"type": "campaign.requested", "version": 1, "data": {}}', "campaign_id"),
        (b'{"type": "campaign.exploded", "version": 1}', "unknown event type"),
        (b"[1, 2, 3]", "JSON object"),
    ],
)
async def test_a_malformed_message_goes_to_the_dead_letter_queue_with_its_reason(
    effects, make_vhost, body, expected_error
):
    amqp_url = await make_vhost()
    async with consuming(amqp_url, effects, record_effect) as (exchange, channel):
        await publish_raw(exchange, body)
        dead = await next_dead_letter(channel)
    assert dead.body == body
    assert dead.headers["x-outreach-dead-letter-reason"] == "invalid-event"
    assert expected_error in dead.headers["x-outreach-error"]
    assert dead.headers["x-outreach-queue"] == PROJECTOR.name
    assert dead.headers["x-outreach-original-routing-key"] == "campaign.requested"
    assert await effect_count(effects) == 0


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_tries(effects, make_vhost):
    amqp_url = await make_vhost()
    calls = 0

    async def always_failing(event, conn):
        nonlocal calls
        calls += 1
        raise ConnectionError("downstream unavailable")

    event = sample_event()
    async with consuming(amqp_url, effects, always_failing, max_attempts=3) as (exchange, channel):
        await publish_event(exchange, event)
        dead = await next_dead_letter(channel)
    assert calls == 3
    assert dead.headers["x-outreach-dead-letter-reason"] == "handler-failed"
    assert dead.headers["x-outreach-attempts"] == 3
    assert "downstream unavailable" in dead.headers["x-outreach-error"]
    assert json.loads(dead.body)["event_id"] == str(event.event_id)
    assert not await _processed(effects, event.event_id)


async def test_a_permanent_error_is_dead_lettered_at_once(effects, make_vhost):
    amqp_url = await make_vhost()
    calls = 0

    async def refusing(event, conn):
        nonlocal calls
        calls += 1
        raise PermanentError("campaign does not exist")

    async with consuming(amqp_url, effects, refusing) as (exchange, channel):
        await publish_event(exchange, sample_event())
        dead = await next_dead_letter(channel)
    assert calls == 1
    assert dead.headers["x-outreach-dead-letter-reason"] == "permanent-error"
    assert dead.headers["x-outreach-error"] == "campaign does not exist"


async def test_a_passing_failure_is_retried_and_applied_once(effects, make_vhost):
    amqp_url = await make_vhost()
    calls = 0

    async def flaky(event, conn):
        nonlocal calls
        calls += 1
        if calls < 2:
            raise ConnectionError("blip")
        await record_effect(event, conn)

    event = sample_event()
    async with consuming(amqp_url, effects, flaky) as (exchange, channel):
        await publish_event(exchange, event)
        await wait_until(lambda: _processed(effects, event.event_id))
        dlq = await channel.get_queue(PROJECTOR.dead_letter_name)
        assert (await dlq.declare()).message_count == 0
    assert calls == 2
    assert await effect_count(effects) == 1


async def test_events_of_types_without_a_handler_are_acknowledged_and_ignored(effects, make_vhost):
    amqp_url = await make_vhost()
    async with consuming(amqp_url, effects, record_effect) as (exchange, channel):
        other = sample_event()
        resumed = CampaignResumed.new(CampaignResumedData(campaign_id=uuid.uuid4()))
        await publish_event(exchange, resumed)
        await publish_event(exchange, other)
        await wait_until(lambda: _processed(effects, other.event_id))
        queue = await channel.get_queue(PROJECTOR.name)
        await asyncio.sleep(0.2)
        assert (await queue.declare()).message_count == 0
    assert not await _processed(effects, resumed.event_id)


async def test_a_batch_applies_its_events_in_one_transaction_each_once(effects, make_vhost):
    amqp_url = await make_vhost()
    events = [sample_event() for _ in range(16)]

    async def record_transaction(event, conn):  # the top-level transaction's id, savepoints or not
        await conn.execute(
            "INSERT INTO effects (event_id, note) VALUES ($1, txid_current()::text)", event.event_id
        )

    async with consuming(amqp_url, effects, record_transaction, batch_size=16) as (exchange, _):
        for event in [*events, events[0]]:  # a duplicate inside the batch
            await publish_event(exchange, event)
        await wait_until(lambda: _all_processed(effects, events))
        await asyncio.sleep(0.3)  # the duplicate's copy consumed too
    assert await effect_count(effects) == 16
    transactions = await effects.fetchval("SELECT count(DISTINCT note) FROM effects")
    assert transactions < 16, f"{transactions} transactions for 16 events: not batched"


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone(effects, make_vhost):
    amqp_url = await make_vhost()
    events = [sample_event() for _ in range(8)]
    poison = events[3].event_id

    async def refusing_one(event, conn):
        if event.event_id == poison:
            raise PermanentError("this one cannot be applied")
        await record_effect(event, conn)

    async with consuming(amqp_url, effects, refusing_one, batch_size=8) as (exchange, channel):
        for event in events:
            await publish_event(exchange, event)
        dead = await next_dead_letter(channel)
        await wait_until(lambda: _all_processed(effects, [e for e in events if e.event_id != poison]))
        dlq = await channel.get_queue(PROJECTOR.dead_letter_name)
        assert (await dlq.declare()).message_count == 0, "only the poison"
    assert json.loads(dead.body)["event_id"] == str(poison)
    assert dead.headers["x-outreach-dead-letter-reason"] == "permanent-error"
    assert await effect_count(effects) == 7
    assert not await _processed(effects, poison)


async def _all_processed(pool, events) -> bool:
    ids = [e.event_id for e in events]
    return await pool.fetchval("SELECT count(*) FROM processed_events WHERE event_id = ANY($1)", ids) == len(
        ids
    )
