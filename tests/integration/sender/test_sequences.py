"""Sequences against real Postgres, RabbitMQ and the SES emulator: follow-ups in order and
threaded, stops, start_at, windows and the daily limit on a clock the test moves."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from projector.handlers import ProjectionOptions, project
from sender.app import RUNNER
from sender.work import Clock
from shared import eligibility
from shared.errors import Conflict
from shared.events import ProspectReplied, ProspectRepliedData
from shared.lifecycle import campaign as campaigns
from shared.lifecycle import sequence
from tests.harness.sending import request_send, running_sender, seed_campaign, seed_prospects, wait_for_status

pytestmark = pytest.mark.integration
DOMAIN = "email.amazonses.com"  # the default domain of SES's Message-ID in us-east-1
FOLLOW_UP = {"wait": "PT1S", "body_html": "<p>Just checking in, {{ first_name }}.</p>"}
LAST = {"wait": "PT1S", "subject": "Last note for {{ first_name }}", "body_html": "<p>Closing the loop.</p>"}


@pytest.fixture
async def emulator(ses_emulator):
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    return ses_emulator


async def sends_by_prospect(pool, campaign_id) -> dict[uuid.UUID, list]:
    rows = await pool.fetch(
        "SELECT prospect_id, step, outcome, ses_message_id, attempted_at FROM email_sends WHERE campaign_id = $1"
        " ORDER BY attempted_at",
        campaign_id,
    )
    grouped: dict[uuid.UUID, list] = {}
    for row in rows:
        grouped.setdefault(row["prospect_id"], []).append(row)
    return grouped


async def wait_for(predicate, timeout: float = 60.0, every: float = 0.05):
    async with asyncio.timeout(timeout):
        while not (value := await predicate()):
            await asyncio.sleep(every)
        return value


async def test_a_three_step_sequence_reaches_everyone_in_order_as_one_thread(backends, emulator):
    database_url, amqp_url, pool = backends
    prospects = await seed_prospects(pool, 4)
    campaign_id = await seed_campaign(pool, steps=[
        {"id": str(uuid.uuid4()), **FOLLOW_UP}, {"id": str(uuid.uuid4()), **LAST},
    ])  # fmt: skip
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"

    sends = await sends_by_prospect(pool, campaign_id)
    assert set(sends) == {p["id"] for p in prospects}
    messages = {m.message_id: m.mime for m in await emulator.sent_messages()}
    assert len(messages) == 12, "three messages each, no more"
    for prospect in prospects:
        steps = sends[prospect["id"]]
        assert [s["step"] for s in steps] == [1, 2, 3] and {s["outcome"] for s in steps} == {"sent"}
        first, second, third = (messages[s["ses_message_id"]] for s in steps)
        name = prospect["first_name"]
        assert first["Subject"] == f"Hello {name}" and "In-Reply-To" not in first
        assert second["Subject"] == f"Re: Hello {name}", "a follow-up without a subject replies to step 1's"
        assert third["Subject"] == f"Last note for {name}"
        ids = [f"<{s['ses_message_id']}@{DOMAIN}>" for s in steps]
        assert second["In-Reply-To"] == ids[0] and second["References"] == ids[0]
        assert third["In-Reply-To"] == ids[1] and third["References"] == f"{ids[0]} {ids[1]}"
        gaps = [(b["attempted_at"] - a["attempted_at"]).total_seconds() for a, b in itertools.pairwise(steps)]
        assert all(gap >= 1.0 for gap in gaps), f"a follow-up went before its wait: {gaps}"


async def test_a_reply_an_unsubscribe_or_a_manual_stop_after_step_one_ends_the_sequence(backends, emulator):
    database_url, amqp_url, pool = backends
    replier, leaver, stopped, stayer = await seed_prospects(pool, 4)
    campaign_id = await seed_campaign(pool, steps=[{"id": str(uuid.uuid4()), **FOLLOW_UP, "wait": "PT4S"}])
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        await wait_for(lambda: pool.fetchval(
            "SELECT count(*) = 4 FROM email_sends WHERE campaign_id = $1 AND outcome = 'sent'", campaign_id
        ))  # fmt: skip
        # The replies reader's event, applied as the projector applies it.
        replied = ProspectReplied.new(
            ProspectRepliedData(
                prospect_id=replier["id"], campaign_id=campaign_id, received_at=datetime.now(UTC)
            )
        )
        async with pool.acquire() as conn, conn.transaction():
            await project(replied, conn, options=ProjectionOptions())
            await sequence.stop_by_admin(conn, campaign_id, stopped["id"], actor="test", correlation_id="t")
        await pool.execute("UPDATE prospects SET status = 'unsubscribed' WHERE id = $1", leaver["id"])
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"

    sends = await sends_by_prospect(pool, campaign_id)
    assert [s["step"] for s in sends[stayer["id"]]] == [1, 2]
    for gone in (replier, leaver, stopped):
        assert [s["step"] for s in sends[gone["id"]]] == [1], "nothing after the stop"
    reasons = dict(
        await pool.fetch("SELECT prospect_id, reason FROM sequence_stops WHERE campaign_id = $1", campaign_id)
    )
    assert reasons == {replier["id"]: "reply", stopped["id"]: "manual"}


async def test_a_follow_up_added_after_completion_goes_when_the_campaign_is_sent_again(backends, emulator):
    database_url, amqp_url, pool = backends
    reached, stopped = await seed_prospects(pool, 2)
    campaign_id = await seed_campaign(pool)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
        with pytest.raises(Conflict) as nothing:
            await request_send(pool, campaign_id)
        assert nothing.value.code == "nothing_new", "no new prospect and no follow-up yet"

        async with pool.acquire() as conn, conn.transaction():
            await campaigns.edit(conn, campaign_id, {"steps": [{"id": str(uuid.uuid4()), **FOLLOW_UP}]})
            await sequence.stop_by_admin(conn, campaign_id, stopped["id"], actor="test", correlation_id="t")
        assert await eligibility.follow_ups_left(pool, campaign_id) == 1, (
            "the stopped prospect is owed nothing"
        )
        assert await request_send(pool, campaign_id) == "sending the follow-ups left"
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
        assert await eligibility.follow_ups_left(pool, campaign_id) == 0
        with pytest.raises(Conflict):
            await request_send(pool, campaign_id)

    sends = await sends_by_prospect(pool, campaign_id)
    assert [s["step"] for s in sends[reached["id"]]] == [1, 2]
    assert [s["step"] for s in sends[stopped["id"]]] == [1]
    messages = {m.message_id: m.mime for m in await emulator.sent_messages()}
    first, follow_up = (messages[s["ses_message_id"]] for s in sends[reached["id"]])
    assert follow_up["In-Reply-To"] == f"<{sends[reached['id']][0]['ses_message_id']}@{DOMAIN}>"
    assert follow_up["Subject"] == "Re: " + first["Subject"]


async def test_a_step_edited_mid_batch_goes_on_at_once_with_the_new_content(backends, emulator):
    database_url, amqp_url, pool = backends
    prospects = await seed_prospects(pool, 8)
    step = {"id": str(uuid.uuid4()), **FOLLOW_UP, "wait": "PT0S", "subject": "Old follow-up"}
    campaign_id = await seed_campaign(pool, steps=[step])
    async with running_sender(database_url, amqp_url, emulator.endpoint_url, send_rate_per_second=1):
        await request_send(pool, campaign_id)
        await wait_for(lambda: pool.fetchval(
            "SELECT count(*) > 0 FROM email_sends WHERE campaign_id = $1 AND step = 2", campaign_id
        ))  # fmt: skip
        async with pool.acquire() as conn, conn.transaction():
            await campaigns.edit(conn, campaign_id, {"steps": [{**step, "subject": "New follow-up"}]})
        edited = datetime.now(UTC)
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"

    follow_ups = await pool.fetch(
        "SELECT ses_message_id, claimed_at FROM email_sends WHERE campaign_id = $1 AND step = 2 ORDER BY claimed_at",
        campaign_id,
    )
    assert len(follow_ups) == len(prospects), "one follow-up each, none skipped and none twice"
    subjects = {m.message_id: m.mime["Subject"] for m in await emulator.sent_messages()}
    new = [row for row in follow_ups if subjects[row["ses_message_id"]] == "New follow-up"]
    assert new and all(subjects[row["ses_message_id"]] == "Old follow-up" for row in follow_ups[: -len(new)])
    # The batch planned on the old step ends at the first refused claim; going through it at
    # the cadence (one a second) would hold the rest back by about as many seconds as it had left.
    assert (new[0]["claimed_at"] - edited).total_seconds() < 4, "the sender planned again at once"


async def test_nothing_leaves_before_start_at_and_the_campaign_says_when(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 2)
    start_at = datetime.now(UTC) + timedelta(seconds=3)
    schedule = {"start_at": start_at.isoformat(), "timezone": "UTC", "fallback_timezone": "UTC",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "24:00"}  # fmt: skip
    campaign_id = await seed_campaign(pool, schedule=schedule)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        waiting = await wait_for(
            lambda: pool.fetchval("SELECT next_send_at FROM email_campaigns WHERE id = $1", campaign_id)
        )
        assert abs((waiting - start_at).total_seconds()) < 0.01
        assert not await emulator.sent_messages(), "nothing before start_at"
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
    first = await pool.fetchval("SELECT min(claimed_at) FROM email_sends WHERE campaign_id = $1", campaign_id)
    assert first >= start_at
    assert len(await emulator.sent_messages()) == 2


async def test_a_closed_window_waits_for_monday_and_the_daily_limit_for_the_next_day(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 3)
    schedule = {"timezone": "America/New_York", "fallback_timezone": "UTC",
                "days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}  # fmt: skip
    campaign_id = await seed_campaign(pool, schedule=schedule, daily_new_limit=2)
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 07:00 in New York, a Saturday
    clock = Clock(saturday - datetime.now(UTC))
    monday_nine = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url, clock=clock) as server:
        await request_send(pool, campaign_id)
        waiting = await wait_for(
            lambda: pool.fetchval("SELECT next_send_at FROM email_campaigns WHERE id = $1", campaign_id)
        )
        assert waiting == monday_nine, "the window opens Monday 09:00 New York time"
        assert not await emulator.sent_messages()

        clock.offset = monday_nine - datetime.now(UTC)
        server.app[RUNNER].waiting_changed.set()
        await wait_for(
            lambda: pool.fetchval("SELECT count(*) = 2 FROM email_sends WHERE campaign_id = $1", campaign_id)
        )
        waiting = await wait_for(
            lambda: pool.fetchval("SELECT next_send_at FROM email_campaigns WHERE id = $1", campaign_id)
        )
        assert waiting == datetime(2026, 12, 8, 14, 0, tzinfo=UTC), (
            "the limit's day ends; Tuesday's window opens"
        )
        assert (
            await pool.fetchval("SELECT count(*) FROM email_sends WHERE campaign_id = $1", campaign_id) == 2
        )

        clock.offset = waiting - datetime.now(UTC)
        server.app[RUNNER].waiting_changed.set()
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
    assert len(await emulator.sent_messages()) == 3


async def test_a_batch_stops_when_the_window_closes_and_the_rest_waits_for_it_to_open(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 20)
    schedule = {"timezone": "UTC", "fallback_timezone": "UTC",
                "days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}  # fmt: skip
    campaign_id = await seed_campaign(pool, schedule=schedule, steps=[{"id": str(uuid.uuid4()), **FOLLOW_UP}])
    closes = datetime(2026, 12, 8, 17, 0, tzinfo=UTC)  # a Tuesday
    opens = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    # Three seconds of window at four sends a second: the first batch (all 20) cannot finish in it.
    clock = Clock(closes - timedelta(seconds=3) - datetime.now(UTC))
    async with running_sender(
        database_url, amqp_url, emulator.endpoint_url, clock=clock, send_rate_per_second=4
    ) as server:
        await request_send(pool, campaign_id)
        waiting = await wait_for(
            lambda: pool.fetchval("SELECT next_send_at FROM email_campaigns WHERE id = $1", campaign_id)
        )
        assert waiting == opens, "the rest waits for Wednesday 09:00"
        before = await pool.fetch(
            "SELECT step, claimed_at FROM email_sends WHERE campaign_id = $1", campaign_id
        )
        assert before and all(row["claimed_at"] < closes for row in before), "nothing claimed after 17:00"
        assert sum(1 for row in before if row["step"] == 1) < 20, (
            "the batch read in the window was cut at 17:00"
        )
        unplanned = await pool.fetchval(
            "SELECT count(*) FROM sequence_progress WHERE campaign_id = $1 AND due_at IS DISTINCT FROM $2",
            campaign_id, opens,
        )  # fmt: skip
        assert unplanned == 0, "every follow-up left is due when the window opens"

        clock.offset = opens - datetime.now(UTC)
        server.app[RUNNER].waiting_changed.set()
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
    after = await pool.fetch("SELECT claimed_at FROM email_sends WHERE campaign_id = $1", campaign_id)
    assert len(after) == 40 and len(await emulator.sent_messages()) == 40
    assert all(row["claimed_at"] < closes or row["claimed_at"] >= opens for row in after)


@pytest.mark.parametrize(
    ("sent_local", "due_utc"),
    [
        # New York springs forward on Sunday 2026-03-08: Saturday 09:30 EST + P1D is Sunday 09:30 EDT, 23 h later.
        (datetime(2026, 3, 7, 14, 30, tzinfo=UTC), datetime(2026, 3, 8, 13, 30, tzinfo=UTC)),
        # ... and falls back on Sunday 2026-11-01: Saturday 09:30 EDT + P1D is Sunday 09:30 EST, 25 h later.
        (datetime(2026, 10, 31, 13, 30, tzinfo=UTC), datetime(2026, 11, 1, 14, 30, tzinfo=UTC)),
    ],
    ids=["spring-forward", "fall-back"],
)
async def test_a_day_wait_across_a_dst_change_keeps_the_local_time(backends, emulator, sent_local, due_utc):
    database_url, amqp_url, pool = backends
    (prospect,) = await seed_prospects(pool, 1)
    schedule = {"timezone": "America/New_York", "fallback_timezone": "UTC",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "09:00", "to": "17:00"}  # fmt: skip
    campaign_id = await seed_campaign(pool, schedule=schedule, steps=[{"id": str(uuid.uuid4()), **FOLLOW_UP,
                                                                      "wait": "P1D"}])  # fmt: skip
    clock = Clock(sent_local - datetime.now(UTC))
    async with running_sender(database_url, amqp_url, emulator.endpoint_url, clock=clock) as server:
        await request_send(pool, campaign_id)
        waiting = await wait_for(
            lambda: pool.fetchval("SELECT next_send_at FROM email_campaigns WHERE id = $1", campaign_id)
        )
        planned = await pool.fetchval(
            "SELECT due_at FROM sequence_progress WHERE prospect_id = $1", prospect["id"]
        )
        sent_at = await pool.fetchval("SELECT last_sent_at FROM sequence_progress WHERE prospect_id = $1",
                                      prospect["id"])  # fmt: skip
        # The step went a moment after the clock's start; the follow-up keeps its wall-clock minute.
        assert planned - due_utc == sent_at - sent_local and abs((sent_at - sent_local).total_seconds()) < 5
        assert waiting == planned
        assert len(await emulator.sent_messages()) == 1, "nothing before the follow-up is due"
        clock.offset = planned - datetime.now(UTC)
        server.app[RUNNER].waiting_changed.set()
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
    assert len(await emulator.sent_messages()) == 2
