"""The lifecycle statements on real PostgreSQL: each transition changes a record only from
its source states, and appends its event exactly when it changed one (never otherwise)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared import db
from shared.addresses import email_hash
from shared.events import (
    CampaignRequested,
    CampaignRequestedData,
    CampaignResumed,
    CampaignResumedData,
    ProspectUnsubscribed,
    ProspectUnsubscribedData,
)
from shared.lifecycle import campaign, prospect
from tests.harness.gateway import ADDRESS_KEY
from tests.harness.sending import TEMPLATE, seed_prospects

pytestmark = pytest.mark.integration


async def new_campaign(pool, status: str, lease: uuid.UUID | None = None) -> uuid.UUID:
    row = await campaign.insert(pool, TEMPLATE)
    # Test set-up puts the row in the state under test directly.
    await pool.execute(
        "UPDATE email_campaigns SET status = $2, sender_lease = $3 WHERE id = $1", row["id"], status, lease
    )
    return row["id"]


async def events_about(pool, key: str, value: uuid.UUID) -> list[str]:
    rows = await pool.fetch("SELECT type FROM events WHERE data->>$1 = $2 ORDER BY position", key, str(value))
    return [row["type"] for row in rows]


async def status_of(pool, table: str, id_: uuid.UUID) -> str | None:
    return await pool.fetchval(f"SELECT status FROM {table} WHERE id = $1", id_)


LEASE = uuid.UUID("0190a0a0-0000-7000-8000-00000000beef")


async def do_pause(pool, id_):
    return await campaign.pause(pool, id_, "test", code="failure_run", by="sender", correlation_id="test")


async def do_complete(pool, id_):
    return await campaign.complete(pool, id_, LEASE, CampaignRequested.new(
        CampaignRequestedData(campaign_id=id_), correlation_id="test"))  # fmt: skip


async def do_complete_without_lease(pool, id_):
    return await campaign.complete(pool, id_, uuid.uuid4(), CampaignRequested.new(
        CampaignRequestedData(campaign_id=id_), correlation_id="test"))  # fmt: skip


async def do_start(pool, id_):
    return await campaign.start(
        pool, CampaignRequested.new(CampaignRequestedData(campaign_id=id_), correlation_id="t")
    )


async def do_cancel(pool, id_):
    async with pool.acquire() as conn:
        return await campaign.cancel(conn, id_, "test", by="admin", correlation_id="test")


@pytest.mark.parametrize(
    ("action", "before", "after", "event"),
    [
        (do_start, "draft", "sending", "campaign.requested"),
        (do_start, "paused", "paused", None),  # a paused campaign resumes, it is not requested
        (do_pause, "sending", "paused", "campaign.paused"),
        (do_pause, "paused", "paused", None),  # twice: one event
        (do_pause, "completed", "completed", None),
        (do_complete, "sending", "completed", "campaign.completed"),
        (do_complete_without_lease, "sending", "sending", None),  # another sender took over
        (do_complete, "paused", "paused", None),
        (do_cancel, "draft", "cancelled", "campaign.cancelled"),
        (do_cancel, "sending", "sending", None),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
async def test_campaign_transitions_change_only_their_sources(pool, action, before, after, event):
    campaign_id = await new_campaign(pool, before, LEASE)
    changed = await action(pool, campaign_id)
    assert changed is (event is not None)
    assert await status_of(pool, "email_campaigns", campaign_id) == after
    assert await events_about(pool, "campaign_id", campaign_id) == ([event] if event else [])


async def test_pausing_every_sending_campaign_leaves_the_others(make_database):
    async with db.pool_context(await make_database()) as pool:
        await pause_every_sending_campaign(pool)


async def pause_every_sending_campaign(pool) -> None:
    sending = [await new_campaign(pool, "sending") for _ in range(3)]
    draft = await new_campaign(pool, "draft")
    async with pool.acquire() as conn, conn.transaction():
        paused = await campaign.pause_all_sending(
            conn, "account", code="credentials", by="ses", cause=CampaignRequested.new(
                CampaignRequestedData(campaign_id=draft), correlation_id="t"),
        )  # fmt: skip
    assert sorted(paused) == sorted(sending)
    for id_ in sending:
        assert await status_of(pool, "email_campaigns", id_) == "paused"
        assert await events_about(pool, "campaign_id", id_) == ["campaign.paused"]
    assert await status_of(pool, "email_campaigns", draft) == "draft"


@pytest.mark.parametrize(
    ("before", "target", "after", "changed"),
    [
        ("active", "bounced", "bounced", True),
        ("active", "complained", "complained", True),
        ("bounced", "complained", "complained", True),
        ("unsubscribed", "bounced", "unsubscribed", False),  # a late bounce hides nothing
        ("complained", "bounced", "complained", False),
    ],
)
async def test_ses_facts_only_raise_a_prospect(pool, before, target, after, changed):
    [row] = await seed_prospects(pool, 1, status=before)
    cause = CampaignRequested.new(CampaignRequestedData(campaign_id=uuid.uuid4()), correlation_id="t")
    async with pool.acquire() as conn, conn.transaction():
        assert await prospect.raise_status(conn, row["id"], target, "ses said", cause=cause) is changed
    assert await status_of(pool, "prospects", row["id"]) == after
    assert await events_about(pool, "prospect_id", row["id"]) == (
        ["prospect.status_changed"] if changed else []
    )


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [("active", "unsubscribed", True), ("bounced", "unsubscribed", True),
     ("unsubscribed", "unsubscribed", False), ("complained", "complained", False)],
)  # fmt: skip
async def test_the_recipients_opt_out(pool, before, after, changed):
    [row] = await seed_prospects(pool, 1, status=before)
    event = ProspectUnsubscribed.new(
        ProspectUnsubscribedData(prospect_id=row["id"], source="one_click"), correlation_id="t"
    )
    assert await prospect.opt_out(pool, event) is changed
    assert await prospect.opt_out(pool, event) is False  # safe to repeat
    assert await status_of(pool, "prospects", row["id"]) == after
    assert await events_about(pool, "prospect_id", row["id"]) == (
        ["prospect.unsubscribed"] if changed else []
    )


@pytest.mark.parametrize(
    ("status", "kept_as"), [("active", "manual"), ("bounced", "bounced"), ("unsubscribed", "unsubscribed")]
)
async def test_erasure_deletes_the_row_keeps_the_suppression_and_says_so(pool, status, kept_as):
    [row] = await seed_prospects(pool, 1, status=status)
    async with pool.acquire() as conn:
        assert await prospect.erase(conn, row["id"], actor="admin", correlation_id="t") is True
        assert await prospect.erase(conn, row["id"], actor="admin", correlation_id="t") is False
    assert await status_of(pool, "prospects", row["id"]) is None
    kept = await pool.fetchval(
        "SELECT reason FROM suppressions WHERE email_hash = $1", email_hash(row["email"], ADDRESS_KEY)
    )
    assert kept == kept_as, "an erased address is never mailed again, active or not"
    assert await events_about(pool, "prospect_id", row["id"]) == ["prospect.erased"]


async def test_a_pause_says_when_it_lifts_exactly_when_it_lifts_by_itself(pool):
    campaign_id = await new_campaign(pool, "sending")
    later = datetime.now(UTC) + timedelta(hours=3)
    with pytest.raises(ValueError, match="needs resumes_at"):
        await campaign.pause(
            pool, campaign_id, "daily cap", code="daily_cap", by="sender", correlation_id="t"
        )
    with pytest.raises(ValueError, match="takes no resumes_at"):
        await campaign.pause(
            pool, campaign_id, "x", code="manual", by="admin", correlation_id="t", resumes_at=later
        )
    assert await campaign.pause(
        pool, campaign_id, "daily cap", code="daily_cap", by="sender", correlation_id="t", resumes_at=later
    )
    row = await pool.fetchrow(
        "SELECT pause_reason, resumes_at FROM email_campaigns WHERE id = $1", campaign_id
    )
    assert (row["pause_reason"], row["resumes_at"]) == ("daily_cap", later)
    data = await pool.fetchval(
        "SELECT data FROM events WHERE type = 'campaign.paused' AND data->>'campaign_id' = $1",
        str(campaign_id),
    )
    assert (data["code"], datetime.fromisoformat(data["resumes_at"])) == ("daily_cap", later)
    # Resuming clears both: a sending campaign has no pause.
    event = CampaignResumed.new(CampaignResumedData(campaign_id=campaign_id), correlation_id="t")
    assert await campaign.start(pool, event)
    row = await pool.fetchrow(
        "SELECT pause_reason, resumes_at FROM email_campaigns WHERE id = $1", campaign_id
    )
    assert (row["pause_reason"], row["resumes_at"]) == (None, None)
