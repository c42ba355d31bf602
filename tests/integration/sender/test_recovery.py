"""Ordinary mishaps that used to ruin or strand a campaign: each pauses with its code,
loses nobody, and recovers (issue 13)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from api_gateway import campaigns
from api_gateway.schemas import RetryRequest
from tests.harness.sending import (
    RULES,
    outcomes,
    request_send,
    running_sender,
    seed_campaign,
    seed_prospects,
    wait_for_status,
)
from tests.harness.ses_stub import Fault, running_stub

pytestmark = pytest.mark.integration

INVALID_TOKEN = Fault(
    "UnrecognizedClientException", 403, "The security token included in the request is invalid."
)


async def pause_of(pool, campaign_id: uuid.UUID):
    return await pool.fetchrow(
        "SELECT status, status_reason, pause_reason, resumes_at FROM email_campaigns WHERE id = $1",
        campaign_id,
    )


async def who(pool, event_type: str, field: str, campaign_id: uuid.UUID) -> str | None:
    """Who did it, as the campaign's event of that type says."""
    return await pool.fetchval(
        "SELECT data->>$2 FROM events WHERE type = $1 AND data->>'campaign_id' = $3",
        event_type,
        field,
        str(campaign_id),
    )


async def exactly_once(pool, stub, campaign_id, seeded) -> None:
    recipients = [r.to[0] for r in stub.received]
    assert sorted(recipients) == sorted(p["email"] for p in seeded), "each prospect once, none twice"
    assert await outcomes(pool, campaign_id) == {"sent": len(seeded)}


async def test_refused_credentials_pause_every_campaign_and_lose_nobody(backends):
    """The acceptance case: 200 prospects while SES refuses the credentials, then fixed."""
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 200)
    first, second = await seed_campaign(pool), await seed_campaign(pool, name="The other campaign")
    async with (
        running_stub(refusing=INVALID_TOKEN) as stub,
        running_sender(database_url, amqp_url, stub.endpoint_url, send_rate_per_second=200),
    ):
        await request_send(pool, first)
        await request_send(pool, second)
        for campaign_id in (first, second):
            await wait_for_status(pool, campaign_id, "paused")
        await asyncio.sleep(0.3)  # anything wrongly still in flight would land now
        for campaign_id in (first, second):
            row = await pause_of(pool, campaign_id)
            assert row["pause_reason"] == "credentials" and row["resumes_at"] is None
            assert "UnrecognizedClientException" in row["status_reason"]
            assert await outcomes(pool, campaign_id) == {}, "no failed sends: every claim released"
        stub.refusing = None  # the operator fixes the keys, then resumes
        await request_send(pool, first)
        await wait_for_status(pool, first, "completed")
    assert stub.received and len(stub.received) == 200
    await exactly_once(pool, stub, first, seeded)
    assert (await pause_of(pool, second))["status"] == "paused", "each campaign is resumed by the admin"


async def test_a_sandbox_refusal_pauses_instead_of_failing_the_list(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 20)
    campaign_id = await seed_campaign(pool)
    sandbox = Fault(
        "MessageRejected", 400,
        f"Email address is not verified. The following identities failed the check in region US-EAST-1: "
        f"{seeded[0]['email']}",
    )  # fmt: skip
    async with running_stub(refusing=sandbox) as stub:
        async with running_sender(database_url, amqp_url, stub.endpoint_url, send_rate_per_second=50):
            await request_send(pool, campaign_id)
            await wait_for_status(pool, campaign_id, "paused")
        row = await pause_of(pool, campaign_id)
        assert row["pause_reason"] == "sandbox"
        assert await outcomes(pool, campaign_id) == {}
        stub.refusing = None  # production access granted
        async with running_sender(database_url, amqp_url, stub.endpoint_url, send_rate_per_second=50):
            await request_send(pool, campaign_id)
            await wait_for_status(pool, campaign_id, "completed")
    await exactly_once(pool, stub, campaign_id, seeded)


async def test_a_run_of_failures_pauses_the_campaign_with_the_last_error(backends):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 30)
    campaign_id = await seed_campaign(pool)
    async with running_stub(refusing=Fault("MessageRejected", 400, "Illegal address")) as stub, running_sender(
        database_url, amqp_url, stub.endpoint_url, send_rate_per_second=20, send_max_in_flight=1,
        send_failure_run_pause=10,
    ):  # fmt: skip
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "paused")
        await asyncio.sleep(0.3)
    row = await pause_of(pool, campaign_id)
    assert row["pause_reason"] == "failure_run"
    assert row["status_reason"] == "10 sends failed in a row; the last: MessageRejected: Illegal address"
    assert await outcomes(pool, campaign_id) == {"failed": 10}, "the other 20 are still eligible"


async def test_one_success_between_failures_starts_the_count_again(backends):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 12)
    campaign_id = await seed_campaign(pool)
    illegal = Fault("MessageRejected", 400, "Illegal address")
    async with running_stub() as stub:
        stub.fail_next(*[illegal] * 3)
        async with running_sender(
            database_url, amqp_url, stub.endpoint_url, send_rate_per_second=20, send_max_in_flight=1,
            send_failure_run_pause=4,
        ):  # fmt: skip
            await request_send(pool, campaign_id)
            await asyncio.sleep(0.3)  # three failures, then a success...
            stub.fail_next(*[illegal] * 3)  # ...and three more: never four in a row
            await wait_for_status(pool, campaign_id, "completed", "paused")
    assert (await pause_of(pool, campaign_id))["status"] == "completed"
    counts = await outcomes(pool, campaign_id)
    assert counts["failed"] == 6 and counts["sent"] == 6


async def test_the_daily_cap_lifts_by_itself_when_its_day_is_over(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 6)
    campaign_id = await seed_campaign(pool)
    async with running_stub() as stub:
        async with running_sender(database_url, amqp_url, stub.endpoint_url, daily_send_cap=4):
            await request_send(pool, campaign_id)
            await wait_for_status(pool, campaign_id, "paused")
        row = await pause_of(pool, campaign_id)
        assert (row["pause_reason"], row["status_reason"]) == ("daily_cap", "daily cap")
        assert row["resumes_at"] is not None
        # The next day: the pause is due (moved here instead of waiting for midnight), and the
        # day's count starts again (the day's sends are moved back a day with it).
        await pool.execute("UPDATE email_campaigns SET resumes_at = now() - interval '1 second' WHERE id = $1",
                           campaign_id)  # fmt: skip
        await pool.execute("UPDATE email_sends SET attempted_at = attempted_at - interval '1 day'"
                           " WHERE campaign_id = $1", campaign_id)  # fmt: skip
        async with running_sender(
            database_url, amqp_url, stub.endpoint_url, daily_send_cap=4, watch_seconds=0.2
        ):
            await wait_for_status(pool, campaign_id, "completed", timeout=30)
    await exactly_once(pool, stub, campaign_id, seeded)
    assert await who(pool, "campaign.resumed", "resumed_by", campaign_id) == "sender"


async def test_a_due_pause_whose_limit_is_still_used_up_waits_longer(backends):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 6)
    campaign_id = await seed_campaign(pool)
    async with running_stub() as stub:
        async with running_sender(database_url, amqp_url, stub.endpoint_url, daily_send_cap=4):
            await request_send(pool, campaign_id)
            await wait_for_status(pool, campaign_id, "paused")
        await pool.execute("UPDATE email_campaigns SET resumes_at = now() - interval '1 second' WHERE id = $1",
                           campaign_id)  # fmt: skip
        async with running_sender(
            database_url, amqp_url, stub.endpoint_url, daily_send_cap=4, watch_seconds=0.2
        ):
            async with asyncio.timeout(30):
                while (row := await pause_of(pool, campaign_id))["resumes_at"] < await pool.fetchval(
                    "SELECT now()"
                ):
                    await asyncio.sleep(0.1)
    assert row["status"] == "paused" and row["pause_reason"] == "daily_cap"
    assert len(stub.received) == 4


async def test_prospects_added_after_completion_get_the_campaign_when_sent_again(backends):
    database_url, amqp_url, pool = backends
    first_wave = await seed_prospects(pool, 3)
    campaign_id = await seed_campaign(pool)
    async with running_stub() as stub, running_sender(database_url, amqp_url, stub.endpoint_url):
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "completed")
        second_wave = await seed_prospects(pool, 2)
        await request_send(pool, campaign_id)  # the admin's "Send to 2 new prospects"
        await wait_for_status(pool, campaign_id, "completed")
        await asyncio.sleep(0.3)
    await exactly_once(pool, stub, campaign_id, first_wave + second_wave)


async def test_failed_sends_are_retried_once_and_unknown_ones_only_when_asked(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 4)
    campaign_id = await seed_campaign(pool)
    async with running_stub() as stub, running_sender(database_url, amqp_url, stub.endpoint_url):
        stub.fail_next(Fault("MessageRejected", 400, "Illegal address"), Fault("", 500))
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "completed")
        assert await outcomes(pool, campaign_id) == {"failed": 1, "unknown": 1, "sent": 2}
        accepted = await campaigns.retry(pool, campaign_id, RetryRequest(), actor="admin", correlation_id="t")
        assert (accepted.requeued, accepted.status) == (1, "sending")
        await wait_for_status(pool, campaign_id, "completed")
        assert len(stub.received) == 3, "the failed one went again; the unknown one did not"
        again = await campaigns.retry(pool, campaign_id, RetryRequest(), actor="admin", correlation_id="t")
        assert (again.requeued, again.detail) == (0, "nothing to retry")
        risky = await campaigns.retry(
            pool, campaign_id, RetryRequest(include_unknown=True), actor="admin", correlation_id="t"
        )
        assert risky.requeued == 1 and "may get the message twice" in risky.detail
        await wait_for_status(pool, campaign_id, "completed")
        await asyncio.sleep(0.3)
    recipients = sorted(r.to[0] for r in stub.received)
    assert len(recipients) == 4 and set(recipients) == {p["email"] for p in seeded}
    live = await pool.fetch(
        "SELECT outcome FROM email_sends WHERE campaign_id = $1 AND retried_at IS NULL", campaign_id
    )
    assert sorted(r["outcome"] for r in live) == ["sent"] * 4


async def lose_the_work(pool, campaign_id) -> None:
    """As a dead-lettered chunk leaves it: `sending`, its last lease long ago, no claim since."""
    await pool.execute(
        "UPDATE email_campaigns SET status = 'sending', sender_lease_at = now() - interval '1 hour' WHERE id = $1",
        campaign_id,
    )


async def test_send_on_a_campaign_whose_work_was_lost_asks_again_and_only_then(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 5)
    campaign_id = await seed_campaign(pool)
    await lose_the_work(pool, campaign_id)  # no request ever reached a sender
    async with running_stub() as stub:
        fresh = replace(RULES, sender_lease_seconds=2 * 3600)
        assert await request_send(pool, campaign_id, fresh) == "already sending"  # lease within 2 h: alive
        assert await request_send(pool, campaign_id) == "its work was lost: sending requested again"
        assert await request_send(pool, campaign_id) == "already sending"  # asking took the lease's time
        async with running_sender(database_url, amqp_url, stub.endpoint_url):
            await wait_for_status(pool, campaign_id, "completed")
    await exactly_once(pool, stub, campaign_id, seeded)


async def test_the_senders_watch_asks_again_for_lost_work(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 5)
    campaign_id = await seed_campaign(pool)
    await lose_the_work(pool, campaign_id)
    async with (
        running_stub() as stub,
        running_sender(database_url, amqp_url, stub.endpoint_url, watch_seconds=0.2, sender_lease_seconds=60),
    ):
        await wait_for_status(pool, campaign_id, "completed", timeout=30)
    await exactly_once(pool, stub, campaign_id, seeded)
    assert await who(pool, "campaign.requested", "requested_by", campaign_id) == "sender"


async def test_a_campaign_making_progress_is_not_asked_for_again(backends):
    pool = backends[2]
    await seed_prospects(pool, 3)
    campaign_id = await seed_campaign(pool)
    await lose_the_work(pool, campaign_id)
    # A claim a moment ago: some sender is at work on it, whatever its lease's age.
    await pool.execute(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome)"
        " SELECT $1, id, md5(random()::text) || md5(random()::text), 'claimed' FROM prospects LIMIT 1",
        campaign_id,
    )
    assert await request_send(pool, campaign_id) == "already sending"
