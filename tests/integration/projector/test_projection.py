"""The projector: any order, any duplicates, the same read tables; rebuild equals live; the guard."""

from __future__ import annotations

import asyncio
import json
import random
from functools import partial

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projector.handlers import ProjectionOptions, project, project_batch
from projector.policy import ReputationLimits
from projector.rebuild import rebuild
from shared import db
from shared.consumer import apply_batch_on, apply_once_on
from shared.event_store import append
from shared.events import ProspectStatusChanged, ProspectStatusChangedData, SesClick
from tests.harness.histories import history, new_world, seed_world, snapshot

pytestmark = pytest.mark.integration
OPTIONS = ProjectionOptions()


async def apply_all(conn: asyncpg.Connection, events, options: ProjectionOptions = OPTIONS) -> None:
    handler = partial(project, options=options)
    for event in events:
        await apply_once_on(conn, "projector", event, handler)


@pytest.fixture(scope="module")
async def projector_db(make_database) -> str:
    return await make_database()


def test_any_order_any_duplicates_and_any_batches_give_the_same_read_tables(projector_db):
    world = new_world()
    events = history(world)

    async def project_in(order: list[int], batch_size: int = 1) -> dict:
        conn = await db.connect(projector_db)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await seed_world(conn, world)
                ordered = [events[i] for i in order]
                if batch_size == 1:
                    await apply_all(conn, ordered)
                else:  # as the projector's batches do: tracked by one statement, projected together
                    handler = partial(project_batch, options=OPTIONS)
                    for start in range(0, len(ordered), batch_size):
                        await apply_batch_on(conn, "projector", ordered[start : start + batch_size], handler)
                return await snapshot(conn)
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    reference = asyncio.run(project_in(list(range(len(events)))))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.permutations(range(len(events))),
        st.lists(st.integers(0, len(events) - 1), max_size=8),
        st.randoms(),
        st.integers(1, 8),
    )
    def check(order, repeats, rng, batch_size):
        shuffled = list(order) + list(repeats)
        rng.shuffle(shuffled)
        assert asyncio.run(project_in(shuffled, batch_size)) == reference

    check()
    # The reference itself is right, not just stable.
    sends = {row[0]: row for row in reference["sends"]}
    assert len(sends) == 4
    stats = reference["stats"][0]
    # sent, delivered (the bounced one was not), opened and clicked once despite two opens,
    # bounced, complained, unsubscribed, failed, rejected, delivery_delayed, unknown
    assert stats[1:12] == (4, 3, 1, 1, 1, 1, 1, 0, 0, 1, 0)
    assert dict(reference["prospects"]) == {
        world.prospects[0]: "active", world.prospects[1]: "bounced",
        world.prospects[2]: "complained", world.prospects[3]: "unsubscribed",
    }  # fmt: skip


async def test_rebuild_equals_the_live_tables_after_a_mixed_workload(make_database):
    async with db.pool_context(await make_database()) as pool:
        worlds = [new_world() for _ in range(3)]
        async with pool.acquire() as conn:
            for world in worlds:
                await seed_world(conn, world)
        events = [event for world in worlds for event in history(world)]
        random.Random(3).shuffle(events)
        async with pool.acquire() as conn:
            async with conn.transaction():
                await append(conn, *events)  # the store holds what the live projector saw
            await apply_all(conn, events + events[:5])
            live = await snapshot(conn)
            # The history, plus what the live projector decided on the way (the prospects its
            # bounces and complaints raised, one ProspectStatusChanged each).
            decided = await conn.fetchval(
                "SELECT count(*) FROM events WHERE type = 'prospect.status_changed'"
            )
        replayed = await rebuild(pool, OPTIONS)
        async with pool.acquire() as conn:
            rebuilt = await snapshot(conn)
    assert decided == 3 * 3  # per world: one bounced, one complained, one unsubscribed
    assert replayed == len(events) + decided
    assert rebuilt == live
    assert len(live["sends"]) == 12


@pytest.mark.parametrize(
    ("sent", "bounced", "complained", "paused"),
    [(10, 1, 0, True), (20, 1, 0, False), (9, 5, 0, False), (10, 0, 1, True), (1000, 0, 1, False)],
)
async def test_the_reputation_guard_pauses_past_its_thresholds(
    make_database, sent, bounced, complained, paused
):
    limits = ReputationLimits(min_sends=10, max_bounce_rate=0.05, max_complaint_rate=0.001)
    world = new_world()
    async with db.pool_context(await make_database()) as pool, pool.acquire() as conn:
        await seed_world(conn, world)
        await conn.execute(
            "INSERT INTO campaign_stats (campaign_id, sent, bounced, complained) VALUES ($1, $2, $3, $4)",
            world.campaign_id, sent - 1, max(bounced - 1, 0), max(complained - 1, 0),
        )  # fmt: skip
        # One more send and its permanent bounce (send 1) or complaint (send 2) bring the
        # counts to the parameters.
        index = 1 if bounced else 2
        events = history(world)
        send_event = next(
            e for e in events if e.type == "send.attempted" and e.data.send_id == world.sends[index]
        )
        trigger = [
            e
            for e in events
            if e.type in ("ses.bounce", "ses.complaint") and e.data.send_id == world.sends[index]
        ]
        await apply_all(conn, [send_event, trigger[-1]], ProjectionOptions(limits=limits))
        status, reason = await conn.fetchrow(
            "SELECT status, status_reason FROM email_campaigns WHERE id = $1", world.campaign_id
        )
        paused_events = await conn.fetch("SELECT data FROM events WHERE type = 'campaign.paused'")
    assert (status == "paused") is paused
    if paused:
        assert ("bounce rate" if bounced else "complaint rate") in reason
        assert json.dumps(paused_events[0]["data"]["paused_by"]) == '"reputation"'


async def test_an_admins_opt_out_is_audited_like_the_recipients(projector_db):
    """The admin marks a prospect unsubscribed: the feedback's audit row says so (source admin);
    a raise from SES (a bounce) leaves none."""
    world = new_world(2)
    async with db.pool_context(projector_db) as pool, pool.acquire() as conn:
        await seed_world(conn, world)
        by_admin = ProspectStatusChanged.new(
            ProspectStatusChangedData(prospect_id=world.prospects[0], from_status="active", to_status="unsubscribed",
                                      reason="asked by phone", changed_by="admin@example.com"),
            correlation_id="t",
        )  # fmt: skip
        by_ses = ProspectStatusChanged.new(
            ProspectStatusChangedData(prospect_id=world.prospects[1], from_status="active", to_status="bounced",
                                      changed_by="ses"),
            correlation_id="t",
        )  # fmt: skip
        await apply_all(conn, [by_admin, by_admin, by_ses])
        rows = await conn.fetch("SELECT prospect_id, source, reason FROM unsubscribes")
    assert [tuple(r) for r in rows] == [(world.prospects[0], "admin", "asked by phone")]


STOPS = "SELECT campaign_id, reason FROM sequence_stops WHERE prospect_id = $1 ORDER BY reason"


async def test_a_click_stops_the_sequences_listening_for_a_click_or_an_open(projector_db):
    world = new_world(3)
    click = next(e for e in history(world) if isinstance(e, SesClick))  # the first prospect's
    async with db.pool_context(projector_db) as pool, pool.acquire() as conn, conn.transaction():
        await seed_world(conn, world)
        other = await conn.fetchval(  # a second campaign the prospect had a send from
            "INSERT INTO email_campaigns (name, subject, from_email, status, stop_on)"
            " VALUES ('d', 's', 'a@example.com', 'sending', '{open}') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome)"
            " VALUES ($1, $2, $3, 'sent')", other, world.prospects[0], "token-of-the-other-send",
        )  # fmt: skip
        await conn.execute(
            "UPDATE email_campaigns SET stop_on = '{reply,click,open}' WHERE id = $1", world.campaign_id
        )
        # A click names its campaign: only that one stops, for the click (its first listed reason).
        await apply_all(conn, [click])
        stops = await conn.fetch(STOPS, world.prospects[0])
        assert [tuple(r) for r in stops] == [(world.campaign_id, "click")]
        # Into the other campaign (listening for opens only) a click of its own stops it as an open.
        own = SesClick.new(click.data.model_copy(update={"campaign_id": other, "eventbridge_id": "eb-other"}))
        await apply_all(conn, [own])
        stops = await conn.fetch(STOPS, world.prospects[0])
        assert [tuple(r) for r in stops] == [(world.campaign_id, "click"), (other, "open")]
