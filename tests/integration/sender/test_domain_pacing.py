"""Per-domain pacing in the running sender, against real Postgres and RabbitMQ and the SES stub:
a mixed-domain campaign, the paced domains first in the list (a CSV sorted by address)."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import asyncpg
import pytest

from sender.pacing import domain_of
from tests.harness.sending import (
    ADDRESS_KEY,
    outcomes,
    request_send,
    running_sender,
    seed_campaign,
    wait_for_status,
)
from tests.harness.ses_stub import running_stub

pytestmark = pytest.mark.integration

BIG = ("gmail.com", "outlook.com", "yahoo.com")


async def seed_addresses(pool: asyncpg.Pool, emails: list[str]) -> None:
    await pool.execute(
        """
        INSERT INTO prospects (email, email_hash, first_name, status)
        SELECT e, outreach_email_hash(e, k.ipad, k.opad), 'First', 'active'
        FROM unnest($1::text[]) WITH ORDINALITY AS s (e, n), outreach_hmac_pads($2) k
        ORDER BY n
        """,
        emails,
        ADDRESS_KEY,
    )


def busiest(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


async def test_no_domain_goes_above_its_rate_and_the_others_are_not_slowed(backends):
    database_url, amqp_url, pool = backends
    run = uuid.uuid4().hex[:6]
    per_big, others = 30, 120  # the big domains' 90 fill the first batches
    big = [f"{run}-{i}@{domain}" for domain in BIG for i in range(per_big)]
    rest = [f"{run}-{i}@d{i}.corp.example" for i in range(others)]
    await seed_addresses(pool, big + rest)  # the big providers' prospects first in the list
    campaign_id = await seed_campaign(pool)
    rate, per_minute = 40.0, 120  # a domain: one send every 0.5 s
    account = {"SendQuota": {"Max24HourSend": 1e6, "MaxSendRate": 1000.0, "SentLast24Hours": 0.0},
               "SendingEnabled": True, "ProductionAccessEnabled": True}  # fmt: skip
    async with (
        running_stub(account=account) as stub,
        running_sender(
            database_url, amqp_url, stub.endpoint_url, send_rate_per_second=rate,
            domain_rate_per_minute=per_minute, send_batch_size=50,
        ),
    ):  # fmt: skip
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "completed", timeout=60)
    assert await outcomes(pool, campaign_id) == {"sent": len(big) + len(rest)}
    by_domain: dict[str, list[float]] = defaultdict(list)
    for received in stub.received:
        by_domain[domain_of(received.to[0])].append(received.at)
    assert sorted(r.to[0] for r in stub.received) == sorted(big + rest), "each prospect exactly once"
    start = min(r.at for r in stub.received)
    interval = 60 / per_minute
    for domain in BIG:
        times = sorted(by_domain[domain])
        # 2 s hold four intervals: four sends, and one more for the window's edge or a send
        # whose claim ran late while the next kept its slot.
        assert busiest(times, 2.0) <= 2.0 / interval + 1, (domain, times)
        assert times[-1] - times[0] >= (per_big - 1) * interval * 0.98, (domain, times)
    rest_times = sorted(t for d, ts in by_domain.items() if d not in BIG for t in ts)
    # The others went at the global cadence, sharing it with the big domains' trickle
    # (three sends a second): not held up behind the big domains at the head of the list.
    rest_span = rest_times[-1] - start
    expected = others / (rate - len(BIG) / interval)
    busiest_big = max(busiest(sorted(by_domain[d]), 60 / per_minute * 4) for d in BIG)
    print(f"\nothers: {others} in {rest_span:.2f} s ({others / rest_span:.1f}/s, their share of the global "
          f"{rate}/s: {rate - len(BIG) / interval:.0f}/s, expected {expected:.2f} s); big domains: {per_big} each in "
          f"{max(by_domain[d][-1] for d in BIG) - start:.2f} s (at {per_minute}/min: "
          f"{(per_big - 1) * interval:.1f} s), busiest 2 s of one: {busiest_big}")  # fmt: skip
    assert rest_span <= expected * 1.3 + 0.5, (
        f"the other domains took {rest_span:.2f} s, expected {expected:.2f}"
    )


async def test_a_restarted_sender_counts_the_last_sends_to_a_domain(backends):
    """The pacing outlives a restart: the first send after it waits its domain's turn, and
    a campaign with nothing else to send waits, saying why."""
    database_url, amqp_url, pool = backends
    run = uuid.uuid4().hex[:6]
    await seed_addresses(pool, [f"{run}-{i}@gmail.com" for i in range(2)])
    campaign_id = await seed_campaign(pool)
    per_minute = 12  # one every 5 s
    options = {"domain_rate_per_minute": per_minute, "chunk_min_seconds": 0.5}
    reasons = set()
    async with running_stub() as stub:
        async with running_sender(database_url, amqp_url, stub.endpoint_url, **options):
            await request_send(pool, campaign_id)
            async with asyncio.timeout(30):
                while len(stub.received) < 1:
                    await asyncio.sleep(0.02)
        async with running_sender(database_url, amqp_url, stub.endpoint_url, **options):
            async with asyncio.timeout(60):
                while (
                    await pool.fetchval("SELECT status FROM email_campaigns WHERE id = $1", campaign_id)
                ) != "completed":
                    reasons.add(
                        await pool.fetchval(
                            "SELECT wait_reason FROM email_campaigns WHERE id = $1", campaign_id
                        )
                    )
                    await asyncio.sleep(0.05)
    times = sorted(r.at for r in stub.received)
    assert len(times) == 2
    assert times[1] - times[0] >= 60 / per_minute * 0.95, times
    assert "domain_pacing" in reasons
