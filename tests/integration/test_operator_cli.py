"""`outreach`, the operator's command line, against real services: dead letters listed, shown and
replayed to their consumer; a campaign's progress; projections rebuilt."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import asyncpg
import pytest

from shared import db
from shared.topology import PROJECTOR
from tests.harness.cli import run_outreach
from tests.harness.consuming import consuming, publish_event
from tests.harness.events import sample_event
from tests.harness.sending import seed_campaign, seed_prospects

pytestmark = pytest.mark.integration


async def outreach(*args: str, database_url: str = "", amqp_url: str = "") -> tuple[int, str, str]:
    env = {"DATABASE_URL": database_url} if database_url else {}
    return await run_outreach(*args, **env, **({"AMQP_URL": amqp_url} if amqp_url else {}))


async def dead_letter_count(amqp_url: str) -> int:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(PROJECTOR.dead_letter_name, passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_a_dead_letter_is_listed_shown_and_replayed_once_the_fault_is_fixed(make_database, make_vhost):
    amqp_url = await make_vhost()
    async with db.pool_context(await make_database()) as pool:
        await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
        downstream_up = False

        async def handler(event, conn: asyncpg.Connection) -> None:
            if not downstream_up:
                raise ConnectionError("downstream unavailable")
            await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.event_id)

        event = sample_event()
        async with consuming(amqp_url, pool, handler, max_attempts=2) as (exchange, _):
            await publish_event(exchange, event)
            async with asyncio.timeout(10):
                while await dead_letter_count(amqp_url) < 1:
                    await asyncio.sleep(0.05)

            code, out, err = await outreach("dead-letters", "list", amqp_url=amqp_url)
            assert code == 0, err
            assert "1 message(s) shown from outreach.projector.dead-letter" in out
            assert str(event.event_id) in out and "handler-failed" in out and "attempts=2" in out
            assert "downstream unavailable" in out
            assert await dead_letter_count(amqp_url) == 1  # listing took nothing away

            code, out, _ = await outreach("dead-letters", "show", str(event.event_id), amqp_url=amqp_url)
            assert code == 0
            assert "x-outreach-dead-letter-reason: handler-failed" in out
            assert json.loads(out.split("\n\n", 1)[1])["event_id"] == str(event.event_id)

            code, out, _ = await outreach("dead-letters", "replay", "no-such-message", amqp_url=amqp_url)
            assert code == 0 and "replayed 0 message(s)" in out
            assert await dead_letter_count(amqp_url) == 1

            downstream_up = True
            code, out, _ = await outreach("dead-letters", "replay", "--all", amqp_url=amqp_url)
            assert (
                code == 0
                and "replayed 1 message(s) from outreach.projector.dead-letter to outreach.projector" in out
            )
            async with asyncio.timeout(10):
                while await pool.fetchval("SELECT count(*) FROM effects") < 1:
                    await asyncio.sleep(0.05)
            assert await pool.fetchval("SELECT event_id FROM effects") == event.event_id
            assert await dead_letter_count(amqp_url) == 0


async def test_bad_operator_input_is_a_clear_error(make_vhost):
    amqp_url = await make_vhost()
    code, _, err = await outreach("dead-letters", "list", "--queue", "nowhere", amqp_url=amqp_url)
    assert code != 0 and "no consumer queue 'nowhere' (known: sender, projector, inbound, forwarder)" in err
    code, _, err = await outreach("dead-letters", "replay", amqp_url=amqp_url)
    assert code != 0 and "name a MESSAGE_ID, or --all" in err
    code, _, err = await outreach("campaign", "not-an-id")
    assert code != 0 and "is not a campaign id" in err


async def test_campaign_progress_and_rebuild(make_database):
    database_url = await make_database()
    async with db.pool_context(database_url) as pool:
        prospects = await seed_prospects(pool, 3)
        campaign_id = await seed_campaign(pool, name="Progress check")
        await pool.execute(
            "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome)"
            " VALUES ($1, $2, 'token-progress-check-0001', 'sent')",
            campaign_id, prospects[0]["id"],
        )  # fmt: skip
    code, out, err = await outreach("campaign", str(campaign_id), database_url=database_url)
    assert code == 0, err
    assert "Progress check" in out and "status     draft" in out
    assert "eligible   2 prospect(s)" in out and "sends      sent 1" in out
    code, out, _ = await outreach(
        "campaign", "00000000-0000-0000-0000-000000000000", database_url=database_url
    )
    assert code != 0
    code, out, err = await outreach("rebuild-projections", database_url=database_url)
    assert code == 0, err
    assert out.startswith("replayed ") and "events into fresh read tables" in out
