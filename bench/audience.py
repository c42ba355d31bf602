"""Audience counts at 1M prospects: `POST /api/segments/preview` (the count and the first
page, as `GET /api/segments/{id}/count` answers them) through a gateway process, beside
the same count as one bare SQL statement in the same run.

    python -m bench.audience [--prospects 1000000] [--runs 20]

The database `outreach_bench_audience` (built once, reused while the size matches): 1M
prospects, 10 % tagged `ten`, 90 % `ninety`, 1 % `one`; 4 % unsubscribed, 1 % bounced.
Target: under 200 ms for tag and status rules.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg

from bench.common import bench_vhost, fresh_database, gateway_env, machine_line, service
from shared import db
from shared.audience import compile_rule
from shared.migrations import migrate_database
from tests.harness.gateway import ADMIN

BENCH_DB = "outreach_bench_audience"
RULES: dict[str, dict[str, Any]] = {
    "tag 10 %": {"field": "tags", "op": "has", "value": "ten"},
    "tag 90 %": {"field": "tags", "op": "has", "value": "ninety"},
    "tag 1 %": {"field": "tags", "op": "has", "value": "one"},
    "status 95 %": {"field": "status", "op": "eq", "value": "active"},
    "status in 5 %": {"field": "status", "op": "in", "value": ["unsubscribed", "bounced"]},
    "tag 10 % and active": {"all": [{"field": "tags", "op": "has", "value": "ten"},
                                    {"field": "status", "op": "eq", "value": "active"}]},
}  # fmt: skip


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def build(url: str, prospects: int) -> None:
    await migrate_database(url)
    async with connection(url) as conn:
        if await conn.fetchval("SELECT count(*) FROM prospects") == prospects:
            return
    url = await fresh_database(url, BENCH_DB)
    print(f"building: {prospects:,} prospects ...", flush=True)
    started = time.perf_counter()
    async with connection(url) as conn:
        await conn.execute(
            """
            INSERT INTO prospects (email, email_hash, first_name, status, tags)
            SELECT email, outreach_email_hash(email, k.ipad, k.opad), 'P' || g,
                   CASE WHEN g % 25 = 0 THEN 'unsubscribed' WHEN g % 100 = 1 THEN 'bounced' ELSE 'active' END,
                   CASE WHEN g % 10 = 0 THEN ARRAY['ten'] ELSE ARRAY['ninety'] END
                   || CASE WHEN g % 100 = 3 THEN ARRAY['one'] ELSE '{}' END
            FROM (SELECT g, 'prospect' || g || '@example' || (g % 97) || '.com' AS email
                  FROM generate_series(1, $1) g) generated, outreach_hmac_pads($2) k
            """,
            prospects,
            b"bench-suppression-hash-key-0123456789",
            timeout=3600,
        )
        await conn.execute("VACUUM ANALYZE prospects", timeout=3600)
    print(f"built in {time.perf_counter() - started:.1f} s", flush=True)


def percentiles(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms"


async def bare(url: str, rule: dict, runs: int) -> tuple[list[float], int]:
    """The reference: the count alone, as one statement on a warm connection."""
    predicate = compile_rule(rule)
    async with connection(url) as conn:
        statement = await conn.prepare(f"SELECT count(*) FROM prospects WHERE {predicate.sql}")
        count = await statement.fetchval(*predicate.args)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            await statement.fetchval(*predicate.args)
            timings.append((time.perf_counter() - started) * 1000)
    return timings, count


async def through_api(base: str, rule: dict, runs: int) -> tuple[list[float], int]:
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        timings, count = [], 0
        for i in range(runs + 1):
            started = time.perf_counter()
            async with http.post(
                f"{base}/api/segments/preview", json={"rule": rule, "limit": 50}
            ) as response:
                body = await response.json()
                assert response.status == 200, body
            if i:  # the first warms the plan and the cache
                timings.append((time.perf_counter() - started) * 1000)
            count = body["count"]
            assert len(body["items"]) == min(50, count)
    return timings, count


async def timed_get(base: str, path: str, runs: int) -> list[float]:
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        timings = []
        for i in range(runs + 1):
            started = time.perf_counter()
            async with http.get(f"{base}{path}") as response:
                assert response.status == 200, await response.text()
                await response.read()
            if i:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


async def bare_sql(url: str, sql: str, runs: int) -> list[float]:
    async with connection(url) as conn:
        statement = await conn.prepare(sql)
        await statement.fetch()
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            await statement.fetch()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


# Answered from prospect_counts: beside the count they replace, in the same run.
LISTS = {
    "GET /api/tags": ("/api/tags", "SELECT tag, count(*) FROM prospects, unnest(tags) AS tag GROUP BY tag"),
    "GET /api/prospects": ("/api/prospects?limit=50", "SELECT count(*) FROM prospects"),
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    url = db.with_database(base, BENCH_DB)
    await db.ensure_database(url)
    print(await machine_line(database_url=url))
    await build(url, args.prospects)
    async with bench_vhost(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "audience"
    ) as amqp:
        env = gateway_env(url, amqp)
        async with service("api_gateway", env, "GATEWAY_PORT") as (gateway, _):
            for name, rule in RULES.items():
                api, count = await through_api(gateway, rule, args.runs)
                reference, bare_count = await bare(url, rule, args.runs)
                assert count == bare_count, (name, count, bare_count)
                ratio = statistics.median(api) / statistics.median(reference)
                print(
                    f"{name:<20} {count:>9,} match | API count + first page {percentiles(api)} | "
                    f"bare SQL count {percentiles(reference)} | API/bare {ratio:4.2f}",
                    flush=True,
                )
            for name, (path, sql) in LISTS.items():
                api = await timed_get(gateway, path, args.runs)
                reference = await bare_sql(url, sql, args.runs)
                ratio = statistics.median(api) / statistics.median(reference)
                print(
                    f"{name:<30} | API {percentiles(api)} | the count it replaces, bare SQL "
                    f"{percentiles(reference)} | API/bare {ratio:4.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    asyncio.run(main())
