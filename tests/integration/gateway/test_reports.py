"""One campaign's sends, timeline and opt-outs as the admin's campaign page reads them."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

import pytest

from api_gateway.adapters.reports import BUCKETS, MAX_POINTS, bucket_for
from projector.handlers import ProjectionOptions, project
from tests.harness.events import append_events
from tests.harness.gateway import ADMIN
from tests.harness.histories import history, new_world, seed_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def world(gw_pool):
    """Four sends: clicked; permanently bounced; complained; delayed, delivered, then unsubscribed."""
    world = new_world(4)
    async with gw_pool.acquire() as conn:
        await seed_world(conn, world)
    events = history(world)
    await append_events(gw_pool, events)
    async with gw_pool.acquire() as conn:  # as the live projector applies them, side effects included
        for event in events:
            async with conn.transaction():
                await project(event, conn, options=ProjectionOptions())
    return world


async def get(client, path: str):
    response = await client.get(path, headers=ADMIN)
    return response.status, await response.json()


async def test_sends_list_each_recipient_with_its_projected_status(client, world):
    status, body = await get(client, f"/api/campaigns/{world.campaign_id}/sends")
    assert status == 200 and body["total"] == 4
    by_send = {row["send_id"]: row for row in body["items"]}
    assert by_send[str(world.sends[0])]["status"] == "clicked"
    assert by_send[str(world.sends[1])]["status"] == "bounced"
    assert by_send[str(world.sends[1])]["error"] == "smtp; 550 5.1.1"
    assert by_send[str(world.sends[2])]["status"] == "complained"
    assert by_send[str(world.sends[3])]["status"] == "unsubscribed"


async def test_sends_search_filter_and_page(client, world):
    base = f"/api/campaigns/{world.campaign_id}/sends"
    _, found = await get(client, f"{base}?q=P0-")  # part of the address, any case
    assert [r["send_id"] for r in found["items"]] == [str(world.sends[0])]
    _, bounced = await get(client, f"{base}?status=bounced")
    assert [r["send_id"] for r in bounced["items"]] == [str(world.sends[1])]
    _, wildcard = await get(client, f"{base}?q=%25")  # '%' is text, not a wildcard
    assert wildcard["total"] == 0
    _, second = await get(client, f"{base}?limit=3&page=2")
    assert len(second["items"]) == 1 and second["page"] == {"page": 2, "limit": 3, "total": 4, "pages": 2}
    _, past = await get(client, f"{base}?limit=3&page=9")
    assert past["items"] == [] and past["total"] == 4


async def test_sends_reject_bad_parameters_and_unknown_campaigns(client, world):
    status, body = await get(client, f"/api/campaigns/{world.campaign_id}/sends?status=lost")
    assert status == 400 and body["error"]["code"] == "validation_failed"
    assert (await get(client, f"/api/campaigns/{world.campaign_id}/sends?limit=0"))[0] == 400
    assert (await get(client, f"/api/campaigns/{uuid.uuid4()}/sends"))[0] == 404
    assert (await get(client, f"/api/campaigns/{uuid.uuid4()}/timeline"))[0] == 404
    assert (await get(client, f"/api/campaigns/{uuid.uuid4()}/feedback"))[0] == 404
    assert (await get(client, "/api/campaigns/not-a-uuid/feedback"))[0] == 400


async def test_timeline_counts_each_fact_once_in_its_bucket(client, world):
    status, body = await get(client, f"/api/campaigns/{world.campaign_id}/timeline")
    assert status == 200
    totals = {
        k: sum(p[k] for p in body["points"]) for k in ("sent", "delivered", "opened", "clicked", "bounced")
    }
    # Every send sent; deliveries 0, 2, 3 (an open/click implies delivery of 0); one open and click counted once.
    assert totals == {"sent": 4, "delivered": 3, "opened": 1, "clicked": 1, "bounced": 1}
    # The history's SES events are dated long before its sends: the buckets widen to draw the span.
    assert body["bucket_seconds"] in BUCKETS and len(body["points"]) <= MAX_POINTS
    ats = [datetime.fromisoformat(p["at"]) for p in body["points"]]
    # Every bucket from the first to the last, quiet ones as zeros: the chart draws time to scale.
    assert {(b - a).total_seconds() for a, b in itertools.pairwise(ats)} == {body["bucket_seconds"]}
    assert any(sum(v for k, v in p.items() if k != "at") == 0 for p in body["points"])


def test_the_bucket_is_the_smallest_that_draws_the_span_in_few_points():
    assert bucket_for(timedelta(minutes=10)) == 10
    assert bucket_for(timedelta(minutes=21)) == 60
    assert bucket_for(timedelta(hours=3)) == 300
    assert bucket_for(timedelta(days=400)) == 86_400


async def test_feedback_lists_bounces_complaints_and_unsubscribes_with_reasons(client, world):
    status, body = await get(client, f"/api/campaigns/{world.campaign_id}/feedback")
    assert status == 200
    kinds = {item["kind"]: item for item in body["items"]}
    assert set(kinds) == {
        "bounce",
        "complaint",
        "unsubscribe",
    }  # the complaint's audit row is not listed twice
    assert len(body["items"]) == 3
    assert kinds["bounce"]["reason"] == "smtp; 550 5.1.1"
    assert kinds["unsubscribe"]["reason"].startswith("one-click")
    assert kinds["unsubscribe"]["send_id"] == str(world.sends[3])


async def test_reports_need_an_admin(client, world):
    response = await client.get(f"/api/campaigns/{world.campaign_id}/sends")
    assert response.status == 401
