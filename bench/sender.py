"""The sender's cadence and ceiling against a local zero-latency SES stub.

    python -m bench.sender [--seconds 60] [--rates 5 50 500] [--loads first follow-up]

For each load and rate: a fresh database, rate x seconds prospects, one campaign sent
by a real sender process (python -m sender) to the stub in this process.
Prints the achieved rate (from the stub's arrival times) against the
configured one, and the p50/p99 deviation of the gaps between sends from the
interval. Then the ceiling: one sender process with no rate limit to speak of.

Loads: `first`, every send a campaign's first message (the reference); `follow-up`,
every send a follow-up of a two-step sequence whose step 1 all prospects had (due now,
planned by the sender as it starts; threaded on step 1's Message-ID; each send advances
the prospect's sequence in the transaction that records it, and each chunk plans those
advanced in the previous one). The ceiling's ratio follow-up / first is the cost of a
sequence on the send path, measured in the same run.

The reference, in the same run: a bare aiobotocore SendEmail loop (bench.bare_ses, its own
process, as many calls in flight) against a fresh stub of the same kind; the ceiling is
stated as a ratio to it, and so is the CPU each process spends on a send (its own CPU time
between the 10th and the 90th percent of the sends, over the sends in between): a figure the
neighbours of a shared machine disturb far less than a rate. Last, the cadence at 80 % of the
`first` ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
import uuid

import asyncpg

from bench.common import bench_vhost, cpu_seconds, fresh_database, machine_line, percentile, service
from shared import db
from tests.harness.sending import FROM_EMAIL, PUBLIC_BASE_URL, request_send, seed_campaign, seed_prospects
from tests.harness.ses_stub import SesStub, running_stub

BENCH_DB = "outreach_bench_sender"
IN_FLIGHT = 64  # SEND_MAX_IN_FLIGHT of the ceiling and the 80 % run, and the bare loop's concurrency


FOLLOW_UP = {"wait": "PT1M", "body_html": "<p>Any thoughts, {{ first_name }}?</p>"}
# Step 1 two minutes ago for every prospect, as the sender records it: a send row and
# the sequence's progress (not yet planned), the campaign's cursor past them all.
FIRST_STEPS_HAD = """
WITH sent AS (
    INSERT INTO email_sends (campaign_id, prospect_id, prospect_seq, unsubscribe_token, outcome, ses_message_id,
                             claimed_at, attempted_at)
    SELECT $1, id, seq, md5(id::text) || md5(random()::text), 'sent', 'bench-step-1-' || seq,
           now() - interval '2 minutes', now() - interval '2 minutes'
    FROM prospects
    RETURNING prospect_id, ses_message_id, attempted_at
)
INSERT INTO sequence_progress (campaign_id, prospect_id, steps_sent, last_sent_at, message_ids, thread_subject)
SELECT $1, prospect_id, ARRAY['00000000-0000-0000-0000-000000000000'::uuid], attempted_at, ARRAY[ses_message_id],
       'Hello there'
FROM sent
"""


async def seed_load(pool: asyncpg.Pool, load: str, count: int) -> uuid.UUID:
    await seed_prospects(pool, count)
    if load == "first":
        return await seed_campaign(pool)
    campaign_id = await seed_campaign(pool, steps=[{"id": str(uuid.uuid4()), **FOLLOW_UP}])
    await pool.execute(FIRST_STEPS_HAD, campaign_id)
    await pool.execute(
        "UPDATE email_campaigns SET cursor_seq = (SELECT max(seq) FROM prospects) WHERE id = $1", campaign_id
    )
    await pool.execute("VACUUM ANALYZE")
    return campaign_id


async def run(
    load: str, rate: float, count: int, base_url: str, amqp_url: str, **extra_env: str
) -> dict[str, float]:
    database_url = await fresh_database(base_url, BENCH_DB)
    async with db.pool_context(database_url) as pool, running_stub() as stub:
        campaign_id = await seed_load(pool, load, count)
        env = {
            "DATABASE_URL": database_url, "AMQP_URL": amqp_url,
            "SES_MODE": "emulator", "SES_ENDPOINT_URL": stub.endpoint_url,
            "SES_FROM_EMAIL": FROM_EMAIL, "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SEND_RATE_PER_SECOND": str(rate),
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", **extra_env,
        }  # fmt: skip
        stub.account = None  # quota unknown: the configured rate rules
        async with service("sender", env, "SENDER_PORT") as (_, pid):
            await request_send(pool, campaign_id)
            async with asyncio.timeout(count / rate * 3 + 120):
                cpu_ms = await cpu_per_call(pid, stub, count)
        times = [r.at for r in stub.received]
        if load == "follow-up":  # the load was what it says: one follow-up each, none of step 1
            steps = await pool.fetch(
                "SELECT step, count(*) AS n FROM email_sends WHERE campaign_id = $1 AND ses_message_id NOT LIKE"
                " 'bench-%' GROUP BY step",
                campaign_id,
            )
            assert [(r["step"], r["n"]) for r in steps] == [(2, count)], steps
            assert "In-Reply-To: <bench-step-1-" in stub.received[-1].raw, "a follow-up in the thread"
    interval = 1 / rate
    gaps = [b - a for a, b in itertools.pairwise(times)]
    deviations = [abs(g - interval) * 1000 for g in gaps]
    return {
        "configured": rate,
        "achieved": (len(times) - 1) / (times[-1] - times[0]),
        "p50_ms": statistics.median(deviations),
        "p99_ms": percentile(deviations, 0.99),
        "sends": len(times),
        "seconds": times[-1] - times[0],
        "cpu_ms": cpu_ms,
    }


async def cpu_per_call(pid: int, stub: SesStub, count: int) -> float:
    """Milliseconds of the process's CPU a call the stub received, between the 10th and the
    90th percent of `count` (start-up and the last chunk left out); returns once all arrived."""
    marks = []
    for mark in (count // 10, count * 9 // 10):
        while len(stub.received) < mark:
            await asyncio.sleep(0.02)
        marks.append((cpu_seconds(pid), len(stub.received)))
    while len(stub.received) < count:
        await asyncio.sleep(0.02)
    (cpu_from, from_n), (cpu_to, to_n) = marks
    return (cpu_to - cpu_from) / max(to_n - from_n, 1) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 50, 500])
    parser.add_argument("--ceiling-sends", type=int, default=20_000)
    parser.add_argument("--cadence-seconds", type=float, default=30, help="the run at 80 % of the ceiling")
    parser.add_argument("--loads", nargs="+", choices=("first", "follow-up"), default=["first", "follow-up"])
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    async with bench_vhost(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "sender"
    ) as amqp_url:
        await measure(args, base, amqp_url)


async def measure(args: argparse.Namespace, base: str, amqp_url: str) -> None:
    print(await machine_line("SES stub in the bench process, zero latency", base), flush=True)
    for load in args.loads:
        for rate in args.rates:
            r = await run(load, rate, int(rate * args.seconds) + 1, base, amqp_url)
            error = (r["achieved"] - rate) / rate * 100
            print(
                f"{load:>9} rate {rate:>6g}/s: achieved {r['achieved']:9.3f}/s ({error:+.2f} %) over "
                f"{r['seconds']:5.1f} s, {r['sends']:,} sends; gap deviation from the interval "
                f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms",
                flush=True,
            )
    ceilings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for load in args.loads:
        started = time.perf_counter()
        r = await run(load, 100_000, args.ceiling_sends, base, amqp_url, SEND_MAX_IN_FLIGHT=str(IN_FLIGHT))
        ceilings[load] = r["achieved"]
        cpu[load] = r["cpu_ms"]
        print(
            f"{load:>9} ceiling (one process, rate unlimited): {r['achieved']:,.0f} sends/s over {r['sends']:,} "
            f"sends ({time.perf_counter() - started:.0f} s with set-up); the sender's CPU {r['cpu_ms']:.2f} ms a send",
            flush=True,
        )
    if len(ceilings) == 2:
        print(f"ceiling ratio follow-up / first: {ceilings['follow-up'] / ceilings['first']:.2f}", flush=True)
    bare, bare_cpu = await bare_sdk_rate(args.ceiling_sends)
    print(
        f"reference: a bare aiobotocore SendEmail loop (one process, 64 in flight) against the same stub: "
        f"{bare:,.0f} calls/s, {bare_cpu:.2f} ms CPU a call; sender ceiling / bare loop: "
        + ", ".join(f"{load} {ceiling / bare:.2f}" for load, ceiling in ceilings.items())
        + "; bare loop's CPU a call / the sender's a send: "
        + ", ".join(f"{load} {bare_cpu / ms:.2f}" for load, ms in cpu.items()),
        flush=True,
    )
    if "first" in ceilings:
        rate = round(ceilings["first"] * 0.8)
        # As many in flight as the ceiling had: the same configuration, at 80 % of its rate.
        r = await run(
            "first",
            rate,
            int(rate * args.cadence_seconds) + 1,
            base,
            amqp_url,
            SEND_MAX_IN_FLIGHT=str(IN_FLIGHT),
        )
        print(
            f"    first rate {rate}/s (80 % of its ceiling): achieved {r['achieved']:.1f}/s "
            f"({(r['achieved'] - rate) / rate * 100:+.2f} %) over {r['seconds']:.1f} s; gap deviation "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms",
            flush=True,
        )


async def bare_sdk_rate(count: int) -> tuple[float, float]:
    """Calls a second of bench.bare_ses (its own process, as the sender is) against a fresh stub,
    and its CPU a call (ms)."""
    async with running_stub() as stub:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bare_ses",
            stub.endpoint_url,
            "--count",
            str(count),
            "--concurrency",
            str(IN_FLIGHT),
        )
        cpu_ms = await cpu_per_call(process.pid, stub, count)
        if await process.wait() != 0:
            raise RuntimeError(f"bench.bare_ses exited with {process.returncode}")
        times = [r.at for r in stub.received]
    return (len(times) - 1) / (times[-1] - times[0]), cpu_ms


if __name__ == "__main__":
    asyncio.run(main())
