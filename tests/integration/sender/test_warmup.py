"""The warm-up ramp across a simulated week, with the sender's clock moved a day at a time:
real Postgres and RabbitMQ, the SES stub."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sender.app import RUNNER
from sender.work import Clock
from shared import warmup
from shared.sequence import FIRST_STEP
from tests.harness.sending import request_send, running_sender, seed_campaign, seed_prospects, wait_for_status
from tests.harness.ses_stub import running_stub

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


async def test_a_new_domain_follows_the_schedule_day_by_day_and_then_sends_freely(backends):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 30)
    first = await seed_campaign(pool, from_email="sales@example.com")
    second = await seed_campaign(pool, from_email="news@example.com")  # same domain: one allowance
    ramp = warmup.Ramp((3, 6, 12), ZoneInfo("UTC"))
    clock = Clock(MONDAY - datetime.now(UTC))

    async def sent() -> int:
        return await pool.fetchval("SELECT count(*) FROM email_sends WHERE outcome = 'sent'")

    async def waiting_for_warmup() -> list:
        return await pool.fetch(
            "SELECT next_send_at FROM email_campaigns WHERE status = 'sending' AND wait_reason = 'warmup'"
        )

    async with (
        running_stub() as stub,
        running_sender(
            database_url, amqp_url, stub.endpoint_url, clock=clock, warmup_schedule="3,6,12", watch_seconds=0.2
        ) as server,
    ):  # fmt: skip
        await request_send(pool, first)
        await request_send(pool, second)
        totals = []
        for day, allowed in enumerate((3, 6, 12), start=1):
            midnight = datetime.combine((MONDAY + timedelta(days=day)).date(), datetime.min.time(), UTC)
            async with asyncio.timeout(30):  # both wait for the next day
                while [row["next_send_at"] for row in await waiting_for_warmup()] != [midnight] * 2:
                    await asyncio.sleep(0.05)
            totals.append(await sent())
            state = await warmup.state(pool, ramp, "example.com", clock.now(), None)
            assert (state.day, state.allowance, state.sent_today, state.remaining) == (
                day,
                allowed,
                allowed,
                0,
            )
            clock.offset = midnight - datetime.now(UTC)  # the next day begins
            server.app[RUNNER].waiting_changed.set()
        # Day 4: the schedule is over, the domain warm: the rest goes at once.
        await wait_for_status(pool, first, "completed")
        await wait_for_status(pool, second, "completed")
    assert totals == [3, 9, 21]
    assert await sent() == 60
    assert len(stub.received) == 60
    state = await warmup.state(pool, ramp, "example.com", clock.now(), None)
    assert state.day == 4 and state.allowance is None


async def test_a_domain_marked_warm_is_not_held_back(backends):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 8)
    campaign = await seed_campaign(pool, from_email="sales@example.com")
    ramp = warmup.Ramp((2,), ZoneInfo("UTC"))
    await warmup.mark_warm(pool, ramp, "example.com", datetime.now(UTC), "admin@example.com")
    async with (
        running_stub() as stub,
        running_sender(database_url, amqp_url, stub.endpoint_url, warmup_schedule="2"),
    ):
        await request_send(pool, campaign)
        await wait_for_status(pool, campaign, "completed")
    assert len(stub.received) == 8


async def test_a_domain_with_a_sending_history_starts_on_the_day_of_its_first_send(backends):
    """An upgrade: sends recorded before the warm-up existed date the domain's day 1."""
    pool = backends[2]
    await seed_prospects(pool, 4)
    old = await seed_campaign(pool, from_email="sales@example.com")
    await pool.execute(
        "INSERT INTO email_sends (id, campaign_id, prospect_id, prospect_seq, unsubscribe_token, step_id, step, "
        "claimed_at, outcome) SELECT gen_random_uuid(), $1, id, seq, gen_random_uuid()::text, $2, 1, "
        "now() - interval '40 days', 'sent' FROM prospects LIMIT 1",
        old,
        FIRST_STEP,
    )
    ramp = warmup.Ramp((1, 2, 3), ZoneInfo("UTC"))
    state = await warmup.state(pool, ramp, "example.com", datetime.now(UTC), None)
    assert state.day == 41 and state.allowance is None, "day 41 of a 3-day ramp: warm"
