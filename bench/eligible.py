"""Eligible-prospects query time at 1M prospects with 100K already claimed.

    python -m bench.eligible [--prospects 1000000] [--claimed 100000] [--runs 50]

Builds (once; reused while the sizes match) a database `outreach_bench` with
the real schema: 1M prospects (4 % not active, 1 % suppressed by hash), one
campaign with the first 100K eligible prospects claimed, and a second
campaign with 100K claims scattered at random. Prints p50/p95/p99 of a
1,000-row batch for the ways the sender asks:

- cursor:   the next batch after the campaign's cursor (the sender's normal step)
- restart:  no cursor (after a restart, or the final sweep), 100K claimed in front
- scattered: no cursor, the 100K claims spread over the whole table

and, against the plain cursor step, a campaign whose audience is a segment matching
10 % and 90 % of prospects (tags), and one with a frequency cap that counts the
scattered campaign's 100K claims; and the follow-ups of a three-step sequence: 600K
prospects in it (step 1 sent to all, step 2 to half), 300K of them with a step due now,
the next 1,000 due chosen (shared.eligibility.DUE). Target: under 50 ms a batch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import asyncpg

from bench.common import machine_line
from shared import db
from shared.eligibility import DUE, DUE_ORDER, PLANNER_SETTINGS, Audience, statement
from shared.migrations import migrate

BENCH_DB = "outreach_bench"
PLAIN = Audience()
CASES = {
    "segment 10 %": Audience(rule={"field": "tags", "op": "has", "value": "ten"}),
    "segment 90 %": Audience(rule={"field": "tags", "op": "has", "value": "ninety"}),
    # The longest cap: every claim of the scattered campaign counts however old the data set is.
    "freq cap 365 d": Audience(frequency_cap_days=365),
}


async def build(conn: asyncpg.Connection, prospects: int, claimed: int) -> tuple[object, object, int]:
    existing = await conn.fetchval("SELECT count(*) FROM prospects")
    campaigns = await conn.fetch("SELECT id FROM email_campaigns ORDER BY created_at, name")
    if existing == prospects and len(campaigns) == 2:
        front, scattered = campaigns[0]["id"], campaigns[1]["id"]
        cursor = await conn.fetchval("SELECT cursor_seq FROM email_campaigns WHERE id = $1", front)
        return front, scattered, cursor
    print(f"building: {prospects:,} prospects, {claimed:,} claimed ...", flush=True)
    started = time.perf_counter()
    await conn.execute("TRUNCATE prospects, suppressions, email_campaigns, email_sends CASCADE")
    await conn.execute(
        """
        INSERT INTO prospects (email, email_hash, first_name, status)
        SELECT email, outreach_email_hash(email, k.ipad, k.opad), first_name, status FROM (
            SELECT 'prospect' || g || '@example' || (g % 97) || '.com' AS email, 'P' || g AS first_name,
                   CASE WHEN g % 25 = 0 THEN 'unsubscribed' ELSE 'active' END AS status
            FROM generate_series(1, $1) g
        ) generated, outreach_hmac_pads($2) k
        """,
        prospects,
        b"bench-suppression-hash-key-0123456789",
    )
    await conn.execute(
        """
        INSERT INTO suppressions (email_hash, reason)
        SELECT email_hash, 'bounced' FROM prospects WHERE seq % 100 = 7
        """
    )
    new_campaign = """
        INSERT INTO email_campaigns (name, subject, from_email)
        VALUES ($1, 's', 'a@example.com') RETURNING id
    """
    front = await conn.fetchval(new_campaign, "a-front")
    scattered = await conn.fetchval(new_campaign, "b-scattered")
    await conn.execute(
        f"""
        INSERT INTO email_sends (campaign_id, prospect_id, prospect_seq, unsubscribe_token, outcome)
        SELECT $1, id, seq, md5(id::text) || md5(random()::text), 'sent'
        FROM ({statement(PLAIN)[0]}) eligible
        """,
        front,
        claimed,
        0,
    )
    await conn.execute(
        """
        INSERT INTO email_sends (campaign_id, prospect_id, prospect_seq, unsubscribe_token, outcome)
        SELECT $1, id, seq, md5(id::text) || md5(random()::text), 'sent'
        FROM prospects TABLESAMPLE BERNOULLI (100.0 * $2 / $3) WHERE status = 'active' LIMIT $2
        """,
        scattered,
        claimed,
        prospects,
    )
    cursor = await conn.fetchval("SELECT max(prospect_seq) FROM email_sends WHERE campaign_id = $1", front)
    await conn.execute("UPDATE email_campaigns SET cursor_seq = $2 WHERE id = $1", front, cursor)
    await conn.execute("VACUUM ANALYZE prospects")
    await conn.execute("VACUUM ANALYZE email_sends")
    await conn.execute("VACUUM ANALYZE suppressions")
    print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
    return front, scattered, cursor


SEQUENCE_STEPS = [
    {"id": "00000000-0000-0000-0000-000000000002", "wait": "P2D", "subject": None, "body_html": "<p>2</p>",
     "body_text": None},
    {"id": "00000000-0000-0000-0000-000000000003", "wait": "P3D", "subject": None, "body_html": "<p>3</p>",
     "body_text": None},
]  # fmt: skip


async def build_sequence(conn: asyncpg.Connection, in_sequence: int) -> object:
    """A three-step campaign: `in_sequence` active prospects had step 1, half of them step 2;
    of each half, every other prospect has its next step due now, the rest in a day."""
    existing = await conn.fetchval("SELECT id FROM email_campaigns WHERE name = 'c-sequence'")
    if existing is not None:
        return existing
    print(f"building: a three-step sequence over {in_sequence:,} prospects ...", flush=True)
    started = time.perf_counter()
    async with conn.transaction():  # all of it or none: a half-built sequence would be reused
        campaign = await _sequence(conn, in_sequence)
    await conn.execute("VACUUM ANALYZE email_sends", timeout=3600)
    await conn.execute("VACUUM ANALYZE sequence_progress", timeout=3600)
    print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
    return campaign


async def _sequence(conn: asyncpg.Connection, in_sequence: int) -> object:
    campaign = await conn.fetchval(
        "INSERT INTO email_campaigns (name, subject, from_email, steps, status) "
        "VALUES ('c-sequence', 's', 'a@example.com', $1, 'sending') RETURNING id",
        SEQUENCE_STEPS,
    )
    two, three = (s["id"] for s in SEQUENCE_STEPS)
    await conn.execute(
        """
        CREATE TEMP TABLE members AS
        SELECT id, seq, row_number() OVER (ORDER BY seq) AS n FROM prospects WHERE status = 'active' LIMIT $1
        """,
        in_sequence,
    )
    # Step 1 for everyone, step 2 for the second half (their next is step 3).
    await conn.execute(
        """
        INSERT INTO email_sends (campaign_id, prospect_id, prospect_seq, unsubscribe_token, outcome, step_id, step)
        SELECT $1::uuid, id, seq, md5(id::text) || md5(random()::text), 'sent',
               '00000000-0000-0000-0000-000000000000'::uuid, 1
        FROM members
        UNION ALL
        SELECT $1::uuid, id, seq, md5(id::text) || md5(random()::text), 'sent', $2::uuid, 2
        FROM members WHERE n > $3::bigint / 2
        """,
        campaign, two, in_sequence, timeout=3600,
    )  # fmt: skip
    await conn.execute(
        """
        INSERT INTO sequence_progress (campaign_id, prospect_id, steps_sent, last_sent_at, message_ids,
                                       thread_subject, plan_version, next_step_id, next_step, due_at)
        SELECT $1::uuid, id,
               CASE WHEN n > $4::bigint / 2 THEN ARRAY['00000000-0000-0000-0000-000000000000'::uuid, $2::uuid]
                    ELSE ARRAY['00000000-0000-0000-0000-000000000000']::uuid[] END,
               now() - interval '3 days', ARRAY['m' || n], 's', 1,
               CASE WHEN n > $4::bigint / 2 THEN $3::uuid ELSE $2::uuid END,
               CASE WHEN n > $4::bigint / 2 THEN 3 ELSE 2 END,
               now() + CASE WHEN n % 2 = 0 THEN interval '-1 hour' - (n || ' seconds')::interval
                            ELSE interval '1 day' END
        FROM members
        """,
        campaign, two, three, in_sequence, timeout=3600,
    )  # fmt: skip
    return campaign


async def measure_due(
    conn: asyncpg.Connection, runs: int, campaign: object, limit: int
) -> tuple[list[float], int]:
    prepared = await conn.prepare(DUE + DUE_ORDER)
    now = await conn.fetchval("SELECT now()")
    rows = await prepared.fetch(campaign, limit, now, 1)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = await prepared.fetch(campaign, limit, now, 1)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, len(rows)


async def tag(conn: asyncpg.Connection) -> None:
    """Segments to send to: 10 % of prospects tagged `ten`, the other 90 % `ninety`."""
    if await conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM prospects WHERE tags <> '{}')"):
        await conn.execute(
            "UPDATE prospects SET tags = CASE WHEN seq % 10 = 0 THEN ARRAY['ten'] ELSE ARRAY['ninety'] END",
            timeout=3600,
        )
        await conn.execute("VACUUM ANALYZE prospects", timeout=3600)


async def measure(
    conn: asyncpg.Connection, runs: int, audience: Audience, campaign: object, limit: int, after: int
) -> tuple[list[float], int]:
    sql, extra = statement(audience)
    prepared = await conn.prepare(sql)
    rows = await prepared.fetch(campaign, limit, after, *extra)  # warm the cache and the plan
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = await prepared.fetch(campaign, limit, after, *extra)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, len(rows)


def summary(name: str, timings: list[float], rows: int) -> str:
    ordered = sorted(timings)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (
        f"{name:<24} rows={rows:<5} p50={statistics.median(ordered):7.2f} ms  "
        f"p95={pick(0.95):7.2f} ms  p99={pick(0.99):7.2f} ms  max={ordered[-1]:7.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--claimed", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--in-sequence", type=int, default=600_000)
    parser.add_argument(
        "--default-planner", action="store_true", help="without the sender's PLANNER_SETTINGS"
    )
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    url = db.with_database(base, BENCH_DB)
    await db.ensure_database(url)
    conn = await db.connect(url)
    try:
        await migrate(conn)
        front, scattered, cursor = await build(conn, args.prospects, args.claimed)
        if not args.default_planner:
            for name, value in PLANNER_SETTINGS.items():  # as the sender's pool runs the statements
                await conn.execute(f"SET {name} = {value}")
        version = await conn.fetchval("SHOW server_version")
        print(await machine_line(f"PostgreSQL {version}", url))
        await tag(conn)
        print(f"the eligible batch (shared/eligibility.py), {args.batch} rows, {args.runs} runs each:")
        reference = 0.0
        for name, campaign, after in (
            ("cursor", front, cursor),
            ("restart", front, 0),
            ("scattered", scattered, 0),
        ):
            timings, rows = await measure(conn, args.runs, PLAIN, campaign, args.batch, after)
            reference = reference or statistics.median(timings)
            print(summary(name, timings, rows))
        # The audience's cases against the plain cursor step measured just above; the cap's
        # with the scattered campaign's 100K claims as recent contacts by another campaign.
        for name, audience in CASES.items():
            for step, after in (("cursor", cursor), ("restart", 0)):
                timings, rows = await measure(conn, args.runs, audience, front, args.batch, after)
                ratio = statistics.median(timings) / reference
                print(f"{summary(f'{name}, {step}', timings, rows)}  /plain cursor {ratio:5.2f}")
        sequence = await build_sequence(conn, args.in_sequence)
        due = await conn.fetchval(
            "SELECT count(*) FROM sequence_progress WHERE campaign_id = $1 AND due_at <= now()", sequence
        )
        timings, rows = await measure_due(conn, args.runs, sequence, args.batch)
        ratio = statistics.median(timings) / reference
        print(f"{summary(f'follow-ups due ({due // 1000}K)', timings, rows)}  /plain cursor {ratio:5.2f}")
        sql, extra = statement(CASES["segment 10 %"])
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, front, args.batch, cursor, *extra)
        print("plan (segment 10 %, cursor):")
        for row in plan:
            print("   ", row[0])
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
