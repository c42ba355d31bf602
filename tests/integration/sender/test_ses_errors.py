"""Each SES answer class, the quota, and no hidden retries, through the sender against the stub."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest

from tests.harness.sending import (
    campaign_status,
    outcomes,
    request_send,
    running_sender,
    seed_campaign,
    seed_prospects,
    wait_for_status,
)
from tests.harness.ses_stub import Fault, running_stub

pytestmark = pytest.mark.integration


async def run_campaign(backends, stub, prospects: int, *, until=("completed", "paused"), **sender_options):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, prospects)
    campaign_id = await seed_campaign(pool)
    async with running_sender(database_url, amqp_url, stub.endpoint_url, **sender_options):
        await request_send(pool, campaign_id)
        status = await wait_for_status(pool, campaign_id, *until, timeout=60)
        await asyncio.sleep(0.3)  # anything wrongly still in flight would land now
    return campaign_id, seeded, status


async def test_each_message_carries_the_tags_and_configuration_set(backends):
    async with running_stub() as stub:
        campaign_id, _seeded, _ = await run_campaign(backends, stub, 3)
    pool = backends[2]
    sends = {
        str(r["prospect_id"]): str(r["id"])
        for r in await pool.fetch(
            "SELECT id, prospect_id FROM email_sends WHERE campaign_id = $1", campaign_id
        )
    }
    for received in stub.received:
        assert received.body["ConfigurationSetName"] == "outreach-test"
        tags = received.tags
        assert tags["campaign_id"] == str(campaign_id)
        assert sends[tags["prospect_id"]] == tags["send_id"]
    assert len(stub.received) == 3


async def test_throttling_is_retried_for_the_same_recipient(backends):
    async with running_stub() as stub:
        throttled = Fault("TooManyRequestsException", 429, "Maximum sending rate exceeded")
        stub.fail_next(throttled, throttled)
        campaign_id, _, status = await run_campaign(backends, stub, 3)
    assert status[0] == "completed"
    assert stub.attempts == 5  # two refusals, then three accepted
    assert sorted(r.to[0] for r in stub.received) == sorted({r.to[0] for r in stub.received})
    assert await outcomes(backends[2], campaign_id) == {"sent": 3}


async def test_a_5xx_is_never_retried_behind_the_senders_back(backends):
    async with running_stub() as stub:
        stub.fail_next(Fault("", 503))
        campaign_id, _, _ = await run_campaign(backends, stub, 1)
    # One attempt for the 5xx (ambiguous: never retried), no hidden retry by a library.
    assert stub.attempts == 1
    assert await outcomes(backends[2], campaign_id) == {"unknown": 1}


async def test_a_rejected_message_fails_alone_and_the_campaign_goes_on(backends):
    async with running_stub() as stub:
        stub.fail_next(Fault("MessageRejected", 400, "Illegal address"))
        campaign_id, _, status = await run_campaign(backends, stub, 4)
    assert status[0] == "completed"
    assert await outcomes(backends[2], campaign_id) == {"failed": 1, "sent": 3}
    error = await backends[2].fetchrow(
        "SELECT error_code, error_message FROM email_sends WHERE campaign_id = $1 AND outcome = 'failed'",
        campaign_id,
    )
    assert (error["error_code"], error["error_message"]) == ("MessageRejected", "Illegal address")


@pytest.mark.parametrize(
    ("code", "reason", "pause_code"),
    [
        ("SendingPausedException", "SES sending is paused for the account", "account_paused"),
        ("AccountSuspendedException", "the SES account is suspended", "account_paused"),
        ("LimitExceededException", "daily quota", "daily_quota"),
        ("MailFromDomainNotVerifiedException", "the MAIL FROM domain is not verified", "configuration"),
        ("NotFoundException", "SES configuration missing (configuration set or identity)", "configuration"),
    ],
)
async def test_account_errors_pause_the_campaign_and_keep_the_rest_eligible(
    backends, code, reason, pause_code
):
    pool = backends[2]
    async with running_stub() as stub:
        stub.fail_next(Fault(code, 400 if code != "NotFoundException" else 404, "refused"))
        # One send at a time: the next starts only once the refusal is known, however slow the
        # machine (with more in flight, a send started before the answer came is SES's to refuse).
        campaign_id, seeded, status = await run_campaign(
            backends, stub, 5, send_rate_per_second=5, send_max_in_flight=1
        )
        assert status == ("paused", reason)
        assert await pause_of(pool, campaign_id) == (pause_code, pause_code == "daily_quota")
        assert stub.received == [], "nothing after the refusal"
        assert await outcomes(pool, campaign_id) == {}, "the refused claim was released"
        # Resumed after the fix, every prospect still gets its one message.
        database_url, amqp_url, _ = backends
        async with running_sender(database_url, amqp_url, stub.endpoint_url):
            await request_send(pool, campaign_id)
            await wait_for_status(pool, campaign_id, "completed")
    assert sorted(r.to[0] for r in stub.received) == sorted(p["email"] for p in seeded)
    paused = await pool.fetchval(
        "SELECT data->>'paused_by' FROM events WHERE type = 'campaign.paused' AND data->>'campaign_id' = $1",
        str(campaign_id),
    )
    assert paused == "ses"


async def pause_of(pool, campaign_id) -> tuple[str | None, bool]:
    """The campaign's pause code, and whether it says when it lifts by itself."""
    row = await pool.fetchrow(
        "SELECT pause_reason, resumes_at FROM email_campaigns WHERE id = $1", campaign_id
    )
    return row["pause_reason"], row["resumes_at"] is not None


async def test_ambiguous_failures_become_unknown_and_enough_of_them_pause(backends):
    async with running_stub() as stub:
        stub.fail_next(Fault("", 500), Fault("InternalFailure", 500), Fault("", 502))
        campaign_id, _, status = await run_campaign(backends, stub, 6, send_rate_per_second=5)
    assert status[0] == "paused"
    assert await pause_of(backends[2], campaign_id) == ("ses_unavailable", False)
    assert "3 ambiguous errors in a row" in status[1]
    assert await outcomes(backends[2], campaign_id) == {"unknown": 3}
    assert stub.attempts == 3, "an ambiguous send is never retried"


async def test_a_timeout_is_ambiguous_even_when_ses_kept_the_message(backends):
    async with running_stub() as stub:
        stub.fail_next(Fault(hang_seconds=2, accept=True))
        campaign_id, _, status = await run_campaign(backends, stub, 2, ses_timeout_seconds=0.5)
    assert status[0] == "completed"
    assert await outcomes(backends[2], campaign_id) == {"unknown": 1, "sent": 1}
    assert len(stub.received) == 2 and stub.attempts == 2  # the timed-out one was not sent again


async def test_the_account_max_send_rate_caps_the_cadence(backends):
    async with running_stub() as stub:
        stub.account["SendQuota"]["MaxSendRate"] = 10.0
        await run_campaign(backends, stub, 11, send_rate_per_second=100)
    times = [r.at for r in stub.received]
    elapsed = times[-1] - times[0]
    assert elapsed >= 0.95, f"10 intervals at 10/s take a second, took {elapsed:.3f} s"


async def test_the_daily_quota_pauses_the_campaign(backends):
    async with running_stub() as stub:
        stub.account["SendQuota"].update({"Max24HourSend": 203.0, "SentLast24Hours": 200.0})
        campaign_id, _, status = await run_campaign(backends, stub, 6)
    assert status == ("paused", "daily quota")
    assert len(stub.received) == 3
    assert await pause_of(backends[2], campaign_id) == ("daily_quota", True)


async def test_the_configured_daily_cap_pauses_the_campaign(backends):
    async with running_stub() as stub:
        campaign_id, _, status = await run_campaign(backends, stub, 6, daily_send_cap=4)
    assert status == ("paused", "daily cap")
    assert len(stub.received) == 4
    assert await outcomes(backends[2], campaign_id) == {"sent": 4}
    lifts = await backends[2].fetchval("SELECT resumes_at FROM email_campaigns WHERE id = $1", campaign_id)
    assert lifts == datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)


async def test_without_get_account_the_configured_rate_applies(backends):
    async with running_stub(account=None) as stub:
        campaign_id, _, status = await run_campaign(backends, stub, 3)
    assert status[0] == "completed"
    assert await campaign_status(backends[2], campaign_id) == ("completed", None)


async def test_missing_credentials_pause_the_campaign_instead_of_guessing(backends, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    async with running_stub() as stub:
        campaign_id, _, status = await run_campaign(backends, stub, 3)
    assert status == ("paused", "AWS credentials are missing")
    assert await pause_of(backends[2], campaign_id) == ("credentials", False)
    assert stub.attempts == 0
    assert await outcomes(backends[2], campaign_id) == {}
