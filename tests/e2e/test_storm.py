"""An EventBridge redelivery storm: 10,000 SES events, each delivered twice (half under the same
envelope id, half under a new one, as SES and EventBridge both do), shuffled, from several
concurrent clients. The stats come out exact."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
import uuid

import asyncpg
import pytest

from shared import db
from tests.e2e.stack import Stack
from tests.harness.sending import seed_campaign, seed_prospects
from tests.harness.ses_events import addressed

pytestmark = pytest.mark.faults

EVENTS = 10_000
CLIENTS = 16


def plan(sends: list[asyncpg.Record]) -> tuple[list[tuple[str, asyncpg.Record]], dict[str, int]]:
    """Which events each send gets (until EVENTS), and the stats they must add up to."""
    events: list[tuple[str, asyncpg.Record]] = []
    expected = dict.fromkeys(("delivered", "opened", "clicked", "bounced", "complained"), 0)
    for i, send in enumerate(sends):
        if i % 10 == 9:
            kinds = ["send", "bounce-permanent"]
        elif i % 10 == 8:
            kinds = ["send", "delivery", "complaint"]
        else:
            kinds = ["send", "delivery", "open"] + (["click"] if i % 2 == 0 else [])
        kinds = kinds[: EVENTS - len(events)]  # the last send may get only the first of its events
        if not kinds:
            break
        events += [(kind, send) for kind in kinds]
        expected["delivered"] += "delivery" in kinds
        expected["opened"] += "open" in kinds
        expected["clicked"] += "click" in kinds
        expected["bounced"] += "bounce-permanent" in kinds
        expected["complained"] += "complaint" in kinds
    return events, expected


async def test_a_redelivery_storm_leaves_exact_stats(stack: Stack):
    async with db.pool_context(stack.database_url) as pool:
        prospects = await seed_prospects(pool, EVENTS // 3)
        campaign_id = await seed_campaign(pool, name="storm")
        sends = await pool.fetch(
            """
            INSERT INTO email_sends (campaign_id, prospect_id, prospect_seq, unsubscribe_token, outcome, ses_message_id)
            SELECT $1, p.id, p.seq, md5(random()::text) || md5(random()::text), 'sent', 'storm-' || p.id
            FROM unnest($2::uuid[]) AS ids(id) JOIN prospects p ON p.id = ids.id
            RETURNING id, campaign_id, prospect_id, ses_message_id
            """,
            campaign_id, [p["id"] for p in prospects],
        )  # fmt: skip
    events, expected = plan(sorted(sends, key=lambda s: s["ses_message_id"]))
    assert len(events) == EVENTS
    rng = random.Random(7)
    bodies = []
    for kind, send in events:
        first = addressed(kind, send)
        again = copy.deepcopy(first)
        if rng.random() < 0.5:
            again["id"] = str(uuid.uuid4())  # the same SES event under another envelope
        bodies += [json.dumps(first).encode(), json.dumps(again).encode()]
    rng.shuffle(bodies)

    url = f"{stack.public_url}/api/webhooks/ses-events"
    headers = {"X-Webhook-Secret": stack.webhook_secret, "Content-Type": "application/json"}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    results: dict[str, int] = {}

    async def client() -> None:
        async with stack.client() as http:
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    result = (await response.json())["result"]
                    results[result] = results.get(result, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.monotonic() - started
    assert results == {"stored": EVENTS, "duplicate": EVENTS}

    async with db.pool_context(stack.database_url) as pool:
        async with asyncio.timeout(180):
            while await pool.fetchval(
                """SELECT count(*) FROM events e WHERE e.data->>'campaign_id' = $1 AND NOT EXISTS (
                   SELECT 1 FROM processed_events p WHERE p.consumer = 'projector' AND p.event_id = e.event_id)""",
                str(campaign_id),
            ):  # fmt: skip
                await asyncio.sleep(0.2)
        stats = await pool.fetchrow("SELECT * FROM campaign_stats WHERE campaign_id = $1", campaign_id)
        stored = await pool.fetchval(
            "SELECT count(*) FROM events WHERE type LIKE 'ses.%' AND data->>'campaign_id' = $1",
            str(campaign_id),
        )
    got = {name: stats[name] for name in expected}
    print(
        f"\nredelivery storm: {len(bodies):,} deliveries ({EVENTS:,} events twice, shuffled) from {CLIENTS} clients "
        f"in {elapsed:.1f} s = {len(bodies) / elapsed:,.0f}/s; stored {results['stored']:,}, duplicates "
        f"{results['duplicate']:,}; stats {got}"
    )
    assert stored == EVENTS
    assert got == expected
