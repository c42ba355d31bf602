"""Two senders at once, and a sender killed mid-campaign: never a duplicate, the rate held."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter

import pytest

from shared.lifecycle import send as store
from tests.harness.sending import (
    FROM_EMAIL,
    PUBLIC_BASE_URL,
    outcomes,
    request_send,
    running_sender,
    seed_campaign,
    seed_prospects,
    wait_for_status,
)
from tests.harness.ses_emulator import free_port
from tests.harness.ses_stub import running_stub

pytestmark = pytest.mark.integration


async def wait_for_received(stub, count: int, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while len(stub.received) < count:
            await asyncio.sleep(0.01)


FOLLOW_UP = {"wait": "PT1S", "body_html": "<p>Following up.</p>"}


@pytest.mark.parametrize("follow_ups", [0, 1], ids=["one-step", "two-steps"])
async def test_two_senders_share_one_cadence_and_never_double_send(backends, follow_ups):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 40)
    campaign_id = await seed_campaign(pool, steps=[{"id": str(uuid.uuid4()), **FOLLOW_UP}] * follow_ups)
    rate = 20.0
    async with running_stub(latency=0.002) as stub:
        first = running_sender(database_url, amqp_url, stub.endpoint_url, send_rate_per_second=rate)
        await first.__aenter__()
        try:
            async with running_sender(database_url, amqp_url, stub.endpoint_url, send_rate_per_second=rate):
                await request_send(pool, campaign_id)
                await wait_for_received(stub, 15)
                await first.__aexit__(None, None, None)  # the active one stops; the other takes over
                first = None
                await wait_for_status(pool, campaign_id, "completed", timeout=30)
        finally:
            if first is not None:
                await first.__aexit__(None, None, None)
    recipients = [r.to[0] for r in stub.received]
    assert Counter(recipients) == Counter(p["email"] for p in seeded for _ in range(1 + follow_ups)), (
        "each prospect exactly once a step"
    )
    times = [r.at for r in stub.received]
    # One cadence for both: in any one-second window at most `rate` sends (+1 for the
    # window's edge). Single gaps may be shorter than the interval when one send's
    # claim or SES call ran late and the next kept its slot.
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= rate + 1, f"{busiest} sends within one second at {rate}/s"
    assert (times[-1] - times[0]) / (len(times) - 1) >= 0.98 / rate
    assert await outcomes(pool, campaign_id) == {"sent": 40 * (1 + follow_ups)}


def sender_env(database_url: str, amqp_url: str, ses_endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "SES_MODE": "emulator",
        "SES_ENDPOINT_URL": ses_endpoint,
        "SES_FROM_EMAIL": FROM_EMAIL,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SEND_RATE_PER_SECOND": "10",
        "SENDER_PORT": str(free_port()),
        "HTTP_HOST": "127.0.0.1",
        "OUTBOX_POLL_SECONDS": "0.5",
        "LOG_FORMAT": "json",
    }


async def start_sender(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sender",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_a_sender_killed_mid_campaign_finishes_after_restart_without_duplicates(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 40)
    campaign_id = await seed_campaign(pool)
    async with running_stub() as stub:
        env = sender_env(database_url, amqp_url, stub.endpoint_url)
        process = await start_sender(env)
        try:
            await request_send(pool, campaign_id)
            await wait_for_received(stub, 12)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            sent_before_restart = len(stub.received)
            process = await start_sender(env)
            await wait_for_status(pool, campaign_id, "completed", timeout=60)
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()
    recipients = Counter(r.to[0] for r in stub.received)
    assert max(recipients.values()) == 1, "no prospect got two messages"
    result = await outcomes(pool, campaign_id)
    assert result.get("unknown", 0) <= 1, f"at most the one send in flight at the kill: {result}"
    assert result.get("sent", 0) + result.get("unknown", 0) == 40
    missing = {p["email"] for p in seeded} - set(recipients)
    assert len(missing) <= result.get("unknown", 0), "only an unknown send may be missing"
    assert 12 <= sent_before_restart < 40


async def test_a_sender_killed_between_steps_finishes_every_sequence_without_a_duplicate_or_a_skip(backends):
    database_url, amqp_url, pool = backends
    seeded = await seed_prospects(pool, 20)
    steps = [{"id": str(uuid.uuid4()), **FOLLOW_UP}, {"id": str(uuid.uuid4()), **FOLLOW_UP}]
    campaign_id = await seed_campaign(pool, steps=steps)
    async with running_stub() as stub:
        env = sender_env(database_url, amqp_url, stub.endpoint_url)
        process = await start_sender(env)
        try:
            await request_send(pool, campaign_id)
            await wait_for_received(stub, 27)  # step 1 done, step 2 under way
            process.send_signal(signal.SIGKILL)
            await process.wait()
            sent_before_restart = len(stub.received)
            process = await start_sender(env)
            await wait_for_status(pool, campaign_id, "completed", timeout=90)
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()
    rows = await pool.fetch(
        "SELECT prospect_id, step, outcome FROM email_sends WHERE campaign_id = $1 ORDER BY prospect_id, step",
        campaign_id,
    )
    by_prospect: dict[uuid.UUID, list[int]] = {}
    for row in rows:
        by_prospect.setdefault(row["prospect_id"], []).append(row["step"])
    assert by_prospect == {p["id"]: [1, 2, 3] for p in seeded}, "every step once, none skipped"
    result = await outcomes(pool, campaign_id)
    assert result.get("unknown", 0) <= 1, f"at most the one send in flight at the kill: {result}"
    assert result.get("sent", 0) + result.get("unknown", 0) == 60
    received = Counter(r.to[0] for r in stub.received)
    assert max(received.values()) <= 3 and sum(received.values()) >= 59
    assert 27 <= sent_before_restart < 60


async def test_a_claim_whose_commit_answer_was_lost_is_taken_up_not_doubled(backends):
    """A database restart can drop the answer to a claim that did commit: the retry finds
    its own claim by id (SES was not called for it) instead of leaving it `claimed`."""
    _, _, pool = backends
    first, second = await seed_prospects(pool, 2)
    campaign_id = await seed_campaign(pool)
    lease = uuid.uuid4()
    await pool.execute(
        "UPDATE email_campaigns SET status = 'sending', sender_lease = $2 WHERE id = $1", campaign_id, lease
    )
    committed = store.new_claim(campaign_id, first["id"])
    assert await store.claim_all(pool, [store.ClaimRequest(committed, lease)]) == [committed]  # answer lost
    lost = store.new_claim(campaign_id, second["id"])  # the first attempt never reached the database
    # Another sender's claim on the same prospect is never taken up: a fresh id conflicts.
    other = store.new_claim(campaign_id, first["id"])
    retries = [store.ClaimRequest(claim, lease, retrying=True) for claim in (committed, lost, other)]
    assert await store.claim_all(pool, retries) == [committed, lost, None]  # one statement for the three
    rows = await pool.fetch(
        "SELECT id, outcome FROM email_sends WHERE campaign_id = $1 ORDER BY id", campaign_id
    )
    assert sorted((r["id"], r["outcome"]) for r in rows) == sorted(
        [(committed.send_id, "claimed"), (lost.send_id, "claimed")]
    )
