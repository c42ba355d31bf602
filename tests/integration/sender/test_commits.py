"""Claims and outcomes that arrive together are committed by one statement each
(shared.lifecycle.send claim_all / record_all through shared.gathering), with every rule
the one-at-a-time statements had."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from shared.events import CampaignRequested, CampaignRequestedData
from shared.gathering import Gathering
from shared.lifecycle import send as store
from shared.lifecycle.sequence import Advance
from shared.sequence import FIRST_STEP
from tests.harness.sending import seed_campaign, seed_prospects

pytestmark = pytest.mark.integration


async def sending(pool, lease: uuid.UUID) -> uuid.UUID:
    campaign_id = await seed_campaign(pool)
    await pool.execute(
        "UPDATE email_campaigns SET status = 'sending', sender_lease = $2 WHERE id = $1", campaign_id, lease
    )
    return campaign_id


def cause(campaign_id: uuid.UUID) -> CampaignRequested:
    return CampaignRequested.new(CampaignRequestedData(campaign_id=campaign_id), correlation_id="test")


async def attempted(pool, campaign_id: uuid.UUID) -> dict[str, str]:
    """The SendAttempted events appended for the campaign: send id -> outcome."""
    rows = await pool.fetch(
        "SELECT data FROM events WHERE type = 'send.attempted' AND data->>'campaign_id' = $1",
        str(campaign_id),
    )
    return {row["data"]["send_id"]: row["data"]["outcome"] for row in rows}


async def test_claims_in_one_statement_each_meet_their_own_rules(backends):
    _, _, pool = backends
    lease, other_lease = uuid.uuid4(), uuid.uuid4()
    ours, theirs = await sending(pool, lease), await sending(pool, other_lease)
    eligible, unsubscribed, again = await seed_prospects(pool, 3)
    await pool.execute("UPDATE prospects SET status = 'unsubscribed' WHERE id = $1", unsubscribed["id"])
    taken = store.new_claim(ours, again["id"])
    assert await store.claim_all(pool, [store.ClaimRequest(taken, lease)]) == [taken]
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    requests = [
        store.ClaimRequest(store.new_claim(ours, eligible["id"]), lease, at),
        store.ClaimRequest(store.new_claim(ours, unsubscribed["id"]), lease),  # unsubscribed since the read
        store.ClaimRequest(store.new_claim(ours, again["id"]), lease),  # claimed already: at most once
        store.ClaimRequest(store.new_claim(theirs, eligible["id"]), lease),  # not our lease on that campaign
        store.ClaimRequest(store.new_claim(theirs, eligible["id"]), other_lease),  # theirs: fine
        store.ClaimRequest(
            store.new_claim(ours, eligible["id"], uuid.uuid4(), 2), lease
        ),  # step never planned
    ]
    claimed = await store.claim_all(pool, requests)
    assert claimed == [requests[0].wanted, None, None, None, requests[4].wanted, None]
    rows = await pool.fetch("SELECT id, campaign_id, claimed_at FROM email_sends ORDER BY claimed_at")
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == {taken.send_id, requests[0].wanted.send_id, requests[4].wanted.send_id}
    assert by_id[requests[0].wanted.send_id]["claimed_at"] == at  # each row with its own clock


async def test_outcomes_in_one_statement_record_events_and_sequences_as_one_at_a_time_did(backends):
    _, _, pool = backends
    lease = uuid.uuid4()
    campaign_id = await sending(pool, lease)
    prospects = await seed_prospects(pool, 4)
    claims = await store.claim_all(
        pool, [store.ClaimRequest(store.new_claim(campaign_id, p["id"]), lease) for p in prospects]
    )
    sent, failed, declared, erased = claims
    assert None not in claims
    await pool.execute("UPDATE email_sends SET outcome = 'unknown' WHERE id = $1", declared.send_id)
    await pool.execute("DELETE FROM prospects WHERE id = $1", erased.prospect_id)  # erased while in flight
    now = datetime.now(UTC)

    def advance(claim: store.Claim, message_id: str | None) -> Advance:
        return Advance(campaign_id, claim.prospect_id, FIRST_STEP, now, message_id, "Hello")

    why = cause(campaign_id)
    recorded = await store.record_all(
        pool,
        [
            store.Outcome(sent, "sent", why, message_id="ses-1", advance=advance(sent, "ses-1")),
            store.Outcome(failed, "failed", why, code="MessageRejected", message="no"),  # reached nobody
            store.Outcome(declared, "sent", why, message_id="ses-3", advance=advance(declared, "ses-3")),
            store.Outcome(erased, "sent", why, message_id="ses-4", advance=advance(erased, "ses-4")),
        ],
    )
    assert recorded == [True, True, False, False]
    outcomes = dict(
        await pool.fetch("SELECT id, outcome FROM email_sends WHERE campaign_id = $1", campaign_id)
    )
    assert outcomes == {
        sent.send_id: "sent", failed.send_id: "failed", declared.send_id: "unknown", erased.send_id: "sent"
    }  # fmt: skip
    # Events only for what this statement recorded, and none naming the erased prospect.
    assert await attempted(pool, campaign_id) == {str(sent.send_id): "sent", str(failed.send_id): "failed"}
    progress = await pool.fetch(
        "SELECT prospect_id, message_ids FROM sequence_progress WHERE campaign_id = $1", campaign_id
    )
    assert [(r["prospect_id"], r["message_ids"]) for r in progress] == [(sent.prospect_id, ["ses-1"])]
    # A repeat (a retry whose first answer was lost) changes nothing.
    assert await store.record_all(pool, [store.Outcome(sent, "sent", why, message_id="ses-1")]) == [False]
    assert len(await attempted(pool, campaign_id)) == 2


async def test_a_batch_that_fails_is_recorded_one_outcome_at_a_time(backends):
    """Two steps of one prospect in one batch would make its sequence row change twice in a
    statement, which PostgreSQL refuses: the gathering records each alone, and both count."""
    _, _, pool = backends
    lease = uuid.uuid4()
    campaign_id = await sending(pool, lease)
    (prospect,) = await seed_prospects(pool, 1)
    first = store.new_claim(campaign_id, prospect["id"])
    second = store.new_claim(campaign_id, prospect["id"], uuid.uuid4(), 2)
    await pool.execute(
        "INSERT INTO email_sends (id, campaign_id, prospect_id, prospect_seq, unsubscribe_token, step_id, step)"
        " SELECT c.send_id, c.campaign_id, c.prospect_id, 1, c.token, c.step_id, c.step"
        " FROM (VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5::uuid, $6::smallint),"
        "              ($7::uuid, $2::uuid, $3::uuid, $8, $9::uuid, $10::smallint))"
        " AS c (send_id, campaign_id, prospect_id, token, step_id, step)",
        first.send_id, campaign_id, prospect["id"], first.token, first.step_id, first.step,
        second.send_id, second.token, second.step_id, second.step,
    )  # fmt: skip
    outcomes = Gathering(store.record_all)
    why, now = cause(campaign_id), datetime.now(UTC)

    def sent(claim: store.Claim) -> store.Outcome:
        message_id = f"ses-{claim.step}"
        advance = Advance(campaign_id, prospect["id"], claim.step_id, now, message_id, "Hello")
        return store.Outcome(claim, "sent", why, message_id=message_id, advance=advance)

    recorded = await asyncio.gather(*(outcomes.submit(pool, sent(claim)) for claim in (first, second)))
    assert outcomes.largest_batch == 2  # they did arrive together
    assert recorded == [True, True]
    steps = await pool.fetchval(
        "SELECT message_ids FROM sequence_progress WHERE campaign_id = $1 AND prospect_id = $2",
        campaign_id, prospect["id"],
    )  # fmt: skip
    assert sorted(steps) == ["ses-1", "ses-2"]
    assert len(await attempted(pool, campaign_id)) == 2
