"""The warm-up's figures and the admin's changes over the API (GET/PUT /api/ses/warmup)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared import db
from shared.sequence import FIRST_STEP
from tests.harness.gateway import ADMIN, gateway
from tests.harness.sending import seed_campaign, seed_prospects

pytestmark = pytest.mark.integration


@pytest.fixture
async def warming_db(make_database) -> str:
    return await make_database()


@pytest.fixture
async def warming(warming_db, amqp_url):
    async with gateway(warming_db, amqp_url, warmup_schedule="5, 10, 20") as client:
        yield client


@pytest.fixture
async def owner_pool(warming_db):
    """The database's owner: seeds sends, which the gateway's own role may not write."""
    async with db.pool_context(warming_db) as pool:
        yield pool


async def claim(pool, campaign_id: uuid.UUID, prospects, outcome: str = "sent") -> None:
    await pool.execute(
        "INSERT INTO email_sends (id, campaign_id, prospect_id, prospect_seq, unsubscribe_token, step_id, step, "
        "claimed_at, outcome) SELECT gen_random_uuid(), $1, id, seq, gen_random_uuid()::text, $2, 1, now(), $4 "
        "FROM prospects WHERE id = ANY($3)",
        campaign_id, FIRST_STEP, [p["id"] for p in prospects], outcome,
    )  # fmt: skip


async def test_each_sending_domain_shows_today_s_allowance_and_what_is_left(warming, owner_pool):
    pool = owner_pool
    answer = await (await warming.get("/api/ses/warmup", headers=ADMIN)).json()
    assert answer["enabled"] and answer["schedule"] == [5, 10, 20] and answer["timezone"] == "UTC"
    # The configured From's domain, never sent from: day 1's allowance ahead of it.
    assert answer["domains"] == [
        {"domain": "example.com", "first_send_on": None, "day": None, "warm": False, "warm_since": None,
         "marked_by": None, "allowance": 5, "sent_today": 0, "remaining": 5}
    ]  # fmt: skip

    prospects = await seed_prospects(pool, 3)
    campaign_id = await seed_campaign(pool, from_email="sales@Example.com")
    await pool.execute(
        "INSERT INTO sending_domains (domain, first_send_on) VALUES ('example.com', $1)",
        datetime.now(UTC).date(),
    )
    await claim(pool, campaign_id, prospects[:2])
    await claim(pool, campaign_id, prospects[2:], outcome="failed")  # reached nobody: not counted
    answer = await (await warming.get("/api/ses/warmup", headers=ADMIN)).json()
    (domain,) = answer["domains"]
    assert (domain["day"], domain["allowance"], domain["sent_today"], domain["remaining"]) == (1, 5, 2, 3)

    response = await warming.put("/api/ses/warmup/example.com", json={"warm": True}, headers=ADMIN)
    assert response.status == 200, await response.text()
    warm = await response.json()
    assert warm["warm"] and warm["allowance"] is None and warm["marked_by"] and warm["warm_since"]

    restarted = await (
        await warming.put("/api/ses/warmup/example.com", json={"warm": False}, headers=ADMIN)
    ).json()
    assert not restarted["warm"] and restarted["day"] == 1 and restarted["allowance"] == 5


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/api/ses/warmup/not a domain", {"warm": True}, "invalid_domain"),
        ("/api/ses/warmup/example.com", {"warm": "yes please"}, None),
        ("/api/ses/warmup/example.com", {"warm": True, "extra": 1}, None),
    ],
)
async def test_a_bad_change_is_refused_with_what_is_wrong(warming, path, body, code):
    response = await warming.put(path, json=body, headers=ADMIN)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["message"]
    if code:
        assert error["code"] == code


async def test_the_warmup_needs_an_admin(warming):
    assert (await warming.get("/api/ses/warmup")).status == 401
    assert (await warming.put("/api/ses/warmup/example.com", json={"warm": True})).status == 401
