"""The eligible-prospects query: active, not suppressed anywhere, not yet claimed, in order."""

from __future__ import annotations

import hmac
import secrets
import uuid

import pytest

from shared import db, eligibility
from shared.addresses import email_hash
from tests.harness.gateway import ADDRESS_KEY

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(make_database):
    async with db.pool_context(await make_database()) as pool:
        yield pool


async def add_prospect(pool, email: str, status: str = "active") -> uuid.UUID:
    return await pool.fetchval(
        "INSERT INTO prospects (email, email_hash, status) VALUES ($1, $3, $2) RETURNING id",
        email,
        status,
        email_hash(email, ADDRESS_KEY),
    )


async def add_campaign(pool) -> uuid.UUID:
    return await pool.fetchval(
        "INSERT INTO email_campaigns (name, subject, from_email)"
        " VALUES ('c', 's', 'a@example.com') RETURNING id"
    )


async def claim(pool, campaign_id, prospect_id) -> None:
    await pool.execute(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token) VALUES ($1, $2, $3)",
        campaign_id,
        prospect_id,
        secrets.token_urlsafe(32),
    )


async def eligible(pool, campaign_id, limit=100, after=0) -> list[str]:
    rows = await eligibility.batch(pool, campaign_id, limit, after)
    return [row["email"] for row in rows]


async def test_only_active_unsuppressed_unclaimed_prospects_in_arrival_order(store):
    campaign, other_campaign = await add_campaign(store), await add_campaign(store)
    await add_prospect(store, "a@example.com")
    await add_prospect(store, "b@example.com", status="unsubscribed")
    await add_prospect(store, "c@example.com", status="bounced")
    await add_prospect(store, "d@example.com", status="complained")
    e = await add_prospect(store, "e@example.com")
    f = await add_prospect(store, "f@example.com")
    await claim(store, campaign, e)
    await claim(store, other_campaign, f)  # claimed elsewhere: still eligible here
    assert await eligible(store, campaign) == ["a@example.com", "f@example.com"]
    assert await eligible(store, other_campaign) == ["a@example.com", "e@example.com"]


async def test_a_suppressed_address_stays_excluded_after_deletion_and_reimport(store):
    campaign = await add_campaign(store)
    gone = await add_prospect(store, "Gone@Example.com")
    # Erasure keeps the suppression by hash only.
    await store.execute(
        "INSERT INTO suppressions (email_hash, reason)"
        " SELECT email_hash, 'unsubscribed' FROM prospects WHERE id = $1",
        gone,
    )
    await store.execute("DELETE FROM prospects WHERE id = $1", gone)
    await add_prospect(store, "gone@example.com")  # re-imported, differently cased
    await add_prospect(store, "kept@example.com")
    assert await eligible(store, campaign) == ["kept@example.com"]


async def test_the_same_mailbox_cannot_be_stored_twice_whatever_the_case(store):
    await add_prospect(store, "Someone@Example.com")
    with pytest.raises(Exception, match="prospects_email_hash_key"):
        await add_prospect(store, "someone@example.COM")


async def test_batches_follow_the_cursor_and_the_limit(store):
    campaign = await add_campaign(store)
    for i in range(10):
        await add_prospect(store, f"p{i}@example.com")
    rows = await eligibility.batch(store, campaign, 4, 0)
    assert [r["email"] for r in rows] == [f"p{i}@example.com" for i in range(4)]
    after = rows[-1]["seq"]
    assert await eligible(store, campaign, limit=4, after=after) == [f"p{i}@example.com" for i in range(4, 8)]


async def test_the_query_uses_its_indexes(store):
    campaign = await add_campaign(store)
    await store.execute(
        "INSERT INTO prospects (email, email_hash)"
        " SELECT e, outreach_email_hash(e, k.ipad, k.opad) FROM (SELECT 'bulk' || g || '@example.com' AS e"
        " FROM generate_series(1, 20000) g) s, outreach_hmac_pads($1) k",
        ADDRESS_KEY,
    )
    await store.execute("ANALYZE prospects")
    sql, _ = eligibility.statement(eligibility.Audience())
    plan = "\n".join(row[0] for row in await store.fetch(f"EXPLAIN {sql}", campaign, 1000, 0))
    assert "prospects_active_seq_idx" in plan
    assert "email_sends_campaign_prospect_key" in plan
    assert "suppressions_pkey" in plan


async def test_the_python_and_sql_address_hashes_agree(store):
    long_key = b"k" * 100  # longer than SHA-256's block: HMAC hashes the key first
    for key in (ADDRESS_KEY, long_key):
        for address in ("Jane.Doe@Example.com", "x@xn--bcher-kva.example", "ÜNI@example.org"):
            expected = email_hash(address, key)
            assert await store.fetchval("SELECT outreach_email_hash($1, $2::bytea)", address, key) == expected
            assert expected == hmac.digest(key, address.lower().encode(), "sha256")
    assert email_hash("jane@example.com", ADDRESS_KEY) != email_hash("jane@example.com", long_key)


async def set_audience(pool, campaign, audience=None, cap=None) -> None:
    await pool.execute(
        "UPDATE email_campaigns SET audience = $2, frequency_cap_days = $3 WHERE id = $1",
        campaign,
        audience,
        cap,
    )


async def tag(pool, prospect, *tags) -> None:
    await pool.execute("UPDATE prospects SET tags = $2 WHERE id = $1", prospect, list(tags))


async def test_a_rule_audience_is_read_with_each_batch(store):
    campaign = await add_campaign(store)
    a, b, c = [await add_prospect(store, f"{n}@example.com") for n in "abc"]
    await tag(store, a, "eu")
    await tag(store, b, "us")
    await set_audience(store, campaign, {"rule": {"field": "tags", "op": "has", "value": "eu"}})
    assert await eligible(store, campaign) == ["a@example.com"]
    assert await eligibility.count(store, campaign) == 1
    # c joins the audience mid-campaign, a leaves it: the next batch follows.
    await tag(store, c, "EU".lower())
    await tag(store, a)
    assert await eligible(store, campaign) == ["c@example.com"]
    assert b  # never in it


async def test_a_segment_audience_follows_the_segment_as_it_is_edited(store):
    campaign = await add_campaign(store)
    a = await add_prospect(store, "a@example.com")
    await add_prospect(store, "b@example.com")
    await tag(store, a, "vip")
    segment = uuid.uuid4()
    await store.execute(
        "INSERT INTO segments (id, name, rule, created_by) VALUES ($1, 'vips', $2, 'test')",
        segment, {"field": "tags", "op": "has", "value": "vip"},
    )  # fmt: skip
    await set_audience(store, campaign, {"segment_id": str(segment)})
    assert await eligible(store, campaign) == ["a@example.com"]
    await store.execute(
        "UPDATE segments SET rule = $2 WHERE id = $1",
        segment,
        {"not": {"field": "tags", "op": "has", "value": "vip"}},
    )
    assert await eligible(store, campaign) == ["b@example.com"]
    await store.execute("DELETE FROM segments WHERE id = $1", segment)
    with pytest.raises(eligibility.AudienceGone):
        await eligible(store, campaign)


async def test_the_frequency_cap_holds_across_campaigns(store):
    campaign, other = await add_campaign(store), await add_campaign(store)
    recent, long_ago, failed, fresh = [await add_prospect(store, f"{n}@example.com") for n in "rlfn"]
    await claim(store, other, recent)
    await claim(store, other, long_ago)
    await claim(store, other, failed)
    await store.execute(
        "UPDATE email_sends SET claimed_at = now() - interval '10 days' WHERE prospect_id = $1", long_ago
    )
    await store.execute(
        "UPDATE email_sends SET outcome = 'failed', attempted_at = now() WHERE prospect_id = $1", failed
    )
    await set_audience(store, campaign, cap=7)
    assert await eligible(store, campaign) == ["l@example.com", "f@example.com", "n@example.com"]
    # The campaign's own claims are not "another campaign's": n claimed here is simply claimed.
    await claim(store, campaign, fresh)
    assert await eligible(store, campaign) == ["l@example.com", "f@example.com"]
    await set_audience(store, campaign)
    assert "r@example.com" in await eligible(store, campaign)
