"""The reputation view: our own bounce and complaint rates per sending domain, over the
last 24 hours, 7 days and day by day, against SES's review and pause rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.gateway import ADMIN
from tests.harness.sending import seed_campaign

pytestmark = pytest.mark.integration

SEED = """
INSERT INTO send_status (send_id, campaign_id, status, status_rank, sent_at, bounced_at, complained_at)
SELECT gen_random_uuid(), $1, 'sent', 1, $2::timestamptz,
       CASE WHEN g <= $4 THEN $2::timestamptz END, CASE WHEN g > $4 AND g <= $4 + $5 THEN $2::timestamptz END
FROM generate_series(1, $3) g
"""


async def sends(pool, campaign_id, at: datetime, count: int, bounced: int = 0, complained: int = 0) -> None:
    await pool.execute(SEED, campaign_id, at, count, bounced, complained)


async def test_rates_per_domain_and_window_against_the_thresholds(client, gw_pool):
    await gw_pool.execute("TRUNCATE send_status")
    main = await seed_campaign(gw_pool, from_email="dana@example.com")
    other = await seed_campaign(gw_pool, from_email="news@Example.org")
    now = datetime.now(UTC)
    await sends(gw_pool, main, now - timedelta(hours=2), 1000, bounced=20, complained=2)  # 2 %, 0.2 %
    await sends(gw_pool, main, now - timedelta(days=3), 1000, bounced=80)  # 8 %: reviewed
    await sends(gw_pool, main, now - timedelta(days=10), 500, bounced=500)  # outside 7 days
    await sends(gw_pool, other, now - timedelta(hours=1), 100, bounced=12)  # 12 %: may be paused

    response = await client.get("/api/ses/reputation", params={"days": 14}, headers=ADMIN)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["thresholds"]["bounce_rate"] == {"review": 0.05, "pause": 0.10}
    assert answer["thresholds"]["complaint_rate"] == {"review": 0.001, "pause": 0.005}
    by_domain = {d["domain"]: d for d in answer["domains"]}
    assert set(by_domain) == {"example.com", "example.org"}

    com = by_domain["example.com"]
    assert com["last_24h"] == {"sent": 1000, "bounced": 20, "complained": 2, "bounce_rate": 0.02,
                               "complaint_rate": 0.002, "state": "review"}  # fmt: skip
    assert com["last_7d"]["sent"] == 2000 and com["last_7d"]["bounced"] == 100
    assert com["last_7d"]["bounce_rate"] == 0.05 and com["last_7d"]["state"] == "review"
    assert [d["sent"] for d in com["daily"]] == [500, 1000, 1000]  # oldest first, 14 days
    assert com["daily"][0]["bounce_rate"] == 1.0 and com["daily"][0]["state"] == "pause"
    assert by_domain["example.org"]["last_24h"]["state"] == "pause"

    week = await (await client.get("/api/ses/reputation", params={"days": 7}, headers=ADMIN)).json()
    assert [d["sent"] for d in week["domains"][0]["daily"]] == [1000, 1000]  # the 10-day-old day left out
    assert week["domains"][0]["last_7d"] == com["last_7d"]
    # One day asked for: the daily list is today's, the 7-day window still all of its sends.
    today = await (await client.get("/api/ses/reputation", params={"days": 1}, headers=ADMIN)).json()
    today_com = next(d for d in today["domains"] if d["domain"] == "example.com")
    sent_today = (now - timedelta(hours=2)).date() == now.date()  # not when run just after midnight UTC
    assert [d["sent"] for d in today_com["daily"]] == ([1000] if sent_today else [])
    assert today_com["last_7d"] == com["last_7d"]


async def test_no_sends_is_an_empty_list_and_bad_days_are_400(client, gw_pool):
    await gw_pool.execute("TRUNCATE send_status")
    empty = await (await client.get("/api/ses/reputation", headers=ADMIN)).json()
    assert empty["domains"] == []
    for days in ("0", "31", "x"):
        response = await client.get("/api/ses/reputation", params={"days": days}, headers=ADMIN)
        assert response.status == 400
        assert "days" in await response.text()
    assert (await client.get("/api/ses/reputation")).status == 401
