"""SES fixtures through the webhook, the broker and the projector into the read tables."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from event_ingest.app import create_app as create_ingest
from event_ingest.settings import EventIngestSettings
from projector.app import create_app as create_projector
from projector.settings import ProjectorSettings
from shared import db, eligibility
from tests.harness.histories import new_world, seed_world
from tests.harness.roles import as_service
from tests.harness.sending import seed_campaign

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "eventbridge"
SECRET = "webhook-secret-0123456789"


def addressed(name: str, world, index: int) -> dict:
    """A fixture re-addressed to one of our sends (tags as the sender sets them)."""
    payload = json.loads((FIXTURES / name).read_text())
    payload["id"] = str(uuid.uuid4())
    tags = payload["detail"]["mail"]["tags"]
    tags.update({
        "send_id": [str(world.sends[index])], "campaign_id": [str(world.campaign_id)],
        "prospect_id": [str(world.prospects[index])],
    })  # fmt: skip
    payload["detail"]["mail"]["messageId"] = f"ses-{world.sends[index].hex}"
    return payload


async def test_fixtures_reach_the_read_tables_and_the_next_eligible_set(make_database, make_vhost):
    database_url, amqp_url = await make_database(), await make_vhost()
    ingest_settings = EventIngestSettings(
        database_url=as_service(database_url, "event-ingest"),
        amqp_url=amqp_url,
        ses_webhook_secret=SECRET,
        outbox_poll_seconds=0.5,
    )
    projector_settings = ProjectorSettings(
        database_url=as_service(database_url, "projector"), amqp_url=amqp_url, outbox_poll_seconds=0.5
    )
    world = new_world()
    deliveries = [
        ("send.json", 0), ("delivery.json", 0), ("open.json", 0), ("click.json", 0),
        ("delivery.json", 1), ("bounce-permanent.json", 1),
        ("delivery.json", 2), ("complaint.json", 2),
        ("delivery-delay.json", 3), ("bounce-transient.json", 3), ("reject.json", 3),
    ]  # fmt: skip
    async with (
        db.pool_context(database_url) as pool,
        TestClient(TestServer(create_ingest(ingest_settings))) as ingest,
        TestServer(create_projector(projector_settings)),
    ):
        async with pool.acquire() as conn:
            await seed_world(conn, world)
        for name, index in deliveries:
            response = await ingest.post(
                "/api/webhooks/ses-events",
                json=addressed(name, world, index),
                headers={"X-Webhook-Secret": SECRET},
            )
            assert response.status == 200, await response.text()
        # Every event in the store applied: the deliveries' and those the projector appends
        # itself (a prospect raised by a bounce or complaint).
        async with asyncio.timeout(20):
            while await pool.fetchval(
                """SELECT count(*) < $1 OR bool_or(p.event_id IS NULL) FROM events e
                   LEFT JOIN processed_events p ON p.event_id = e.event_id AND p.consumer = 'projector'""",
                len(deliveries),
            ):
                await asyncio.sleep(0.05)
        statuses = {
            row["send_id"]: row["status"]
            for row in await pool.fetch("SELECT send_id, status FROM send_status")
        }
        stats = await pool.fetchrow("SELECT * FROM campaign_stats WHERE campaign_id = $1", world.campaign_id)
        prospects = {r["id"]: r["status"] for r in await pool.fetch("SELECT id, status FROM prospects")}
        bounce_error = await pool.fetchval("SELECT error FROM send_status WHERE send_id = $1", world.sends[1])
        audit = await pool.fetchval(
            "SELECT source FROM unsubscribes WHERE prospect_id = $1", world.prospects[2]
        )
        next_campaign = await seed_campaign(pool)
        eligible = {r["id"] for r in await eligibility.batch(pool, next_campaign, 100, 0)}

    # The fourth was delayed, bounced transiently, then rejected: never delivered.
    assert [statuses[s] for s in world.sends] == ["clicked", "bounced", "complained", "rejected"]
    assert bounce_error.startswith("smtp; 550 5.1.1")
    assert (stats["sent"], stats["delivered"], stats["opened"], stats["clicked"]) == (4, 3, 1, 1)
    assert (stats["bounced"], stats["complained"], stats["delivery_delayed"], stats["rejected"]) == (
        1,
        1,
        1,
        1,
    )
    assert prospects[world.prospects[1]] == "bounced"
    assert prospects[world.prospects[2]] == "complained"
    assert prospects[world.prospects[3]] == "active"  # a transient bounce flags nothing
    assert audit == "complaint"
    assert eligible == {world.prospects[0], world.prospects[3]}
