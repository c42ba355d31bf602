"""CSV import through the gateway's HTTP route, beside the psql \\copy floor.

    python -m bench.import [--sizes 100000 1000000]

For each size: a generated CSV (email, first_name, last_name, company, title, tags and
two custom columns, city and industry) is POSTed to /api/prospects/import of a freshly
started gateway (into an empty prospects table), with the projector running; then the
projector's search indexer catches up, and the bench checks that every prospect's search
row is there and right. Then the same rows are loaded with `psql \\copy` into `floor`, a
table with the columns and indexes of prospects (its unique address index is on
lower(email), since the file has no hash column). Prints rows/s for both, the ratio, the
gateway's peak RSS and how long search took to catch up.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

from bench.common import bench_vhost, fresh_database, gateway_env, machine_line, peak_rss_mb, service
from tests.harness.gateway import ADMIN

BENCH_DB = "outreach_bench_import"
# The indexes of prospects (infra/migrations), substring search aside: it lives in
# prospect_search since migration 0020, off the import's path.
FLOOR_TABLE = """
DROP TABLE IF EXISTS floor;
CREATE TABLE floor (LIKE prospects INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED
                    INCLUDING CONSTRAINTS);
ALTER TABLE floor ALTER COLUMN email_hash DROP NOT NULL, DROP CONSTRAINT IF EXISTS prospects_email_hash_check;
ALTER TABLE floor ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON floor (lower(email));
CREATE INDEX ON floor (seq) WHERE status = 'active';
CREATE INDEX ON floor (status, id) WHERE status <> 'active';
CREATE INDEX ON floor USING gin (tags);
"""
FLOOR_INDEXES = 5  # the primary key and the four above
PROSPECT_INDEXES = """SELECT count(*) FROM pg_indexes WHERE tablename = 'prospects'"""
# Prospects whose search row is missing or differs from what their fields make.
STALE = """
SELECT count(*) FROM prospects p FULL JOIN prospect_search s USING (id)
WHERE s.search_text IS DISTINCT FROM outreach_search_text(p.email, p.first_name, p.last_name, p.company)
"""
# The projector has queued the import for the indexer, and the indexer is through with it.
CAUGHT_UP = """
SELECT EXISTS (SELECT 1 FROM events e JOIN processed_events p ON p.event_id = e.event_id AND p.consumer = 'projector'
               WHERE e.type = 'prospects.imported')
   AND NOT EXISTS (SELECT 1 FROM search_refresh)
"""
TAG_SETS = [["lead"], ["lead", "q4"], ["customer"], [], ["eu", "lead"]]


def generate(path: Path, floor_path: Path, rows: int) -> None:
    """The CSV for the gateway, and the same rows for \\copy (custom fields as JSON, tags as an array)."""
    rng = random.Random(rows)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus", "Margaret", "Donald"]
    last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Hamilton"]
    industries = ["Fintech", "Retail", "Logistics", "Health", "Energy"]
    with path.open("w", newline="") as out, floor_path.open("w", newline="") as floor_out:
        writer, floor_writer = csv.writer(out), csv.writer(floor_out)
        writer.writerow(["email", "first_name", "last_name", "company", "title", "tags", "city", "industry"])
        for i in range(rows):
            given, family = rng.choice(first), rng.choice(last)
            email = f"{given.lower()}.{family.lower()}.{i}@company{rng.randint(1, 20000)}.example.com"
            company, title = f"Company {rng.randint(1, 20000)} Ltd", "Head of Engineering"
            tags, industry = rng.choice(TAG_SETS), rng.choice(industries)
            writer.writerow([email, given, family, company, title, ";".join(tags), "Berlin", industry])
            floor_writer.writerow([
                email, given, family, company, title, json.dumps({"city": "Berlin", "industry": industry}),
                "{" + ",".join(tags) + "}",
            ])  # fmt: skip


async def through_gateway(path: Path, database_url: str, amqp_url: str) -> tuple[float, float, float, dict]:
    """(import seconds, the gateway's peak RSS, seconds until search caught up, the report)."""
    env = gateway_env(database_url, amqp_url, IMPORT_MAX_BYTES=str(1024**3))
    async with (
        service("api_gateway", env, "GATEWAY_PORT") as (base, pid),
        service("projector", {**env, "SEARCH_INDEX_POLL_SECONDS": "0.2"}, "PROJECTOR_PORT"),
    ):
        timeout = aiohttp.ClientTimeout(total=3600)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            started = time.perf_counter()
            with path.open("rb") as body:
                async with http.post(
                    f"{base}/api/prospects/import", data=body, headers={**ADMIN, "Content-Type": "text/csv"}
                ) as response:
                    report = await response.json()
                    response.raise_for_status()
            elapsed = time.perf_counter() - started
            rss = peak_rss_mb(pid)
            conn = await asyncpg.connect(database_url)
            try:
                while not await conn.fetchval(CAUGHT_UP):
                    await asyncio.sleep(0.2)
                caught_up = time.perf_counter() - started - elapsed
                stale = await conn.fetchval(STALE)
                assert stale == 0, f"{stale} prospects without their search row after the indexer caught up"
            finally:
                await conn.close()
            async with http.get(
                f"{base}/api/prospects", params={"q": "lovelace", "limit": "1"}, headers=ADMIN
            ) as response:
                found = (await response.json())["total"]
            assert found > 0, "search finds none of the imported prospects"
        return elapsed, rss, caught_up, report


def floor(floor_path: Path, database_url: str) -> float:
    subprocess.run(["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", FLOOR_TABLE], check=True)
    started = time.perf_counter()
    subprocess.run(
        ["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
         f"\\copy floor (email, first_name, last_name, company, title, attributes, tags) FROM "
         f"'{floor_path}' WITH (FORMAT csv)"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    async with bench_vhost(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "import"
    ) as amqp_url:
        await measure(args, base, amqp_url)


async def measure(args: argparse.Namespace, base: str, amqp_url: str) -> None:
    print(await machine_line(database_url=base))
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.sizes:
            path, floor_path = Path(tmp) / f"prospects-{rows}.csv", Path(tmp) / f"floor-{rows}.csv"
            generate(path, floor_path, rows)
            database_url = await fresh_database(base, BENCH_DB)
            conn = await asyncpg.connect(database_url)
            try:
                assert await conn.fetchval(PROSPECT_INDEXES) == FLOOR_INDEXES, (
                    "the floor lacks an index of prospects"
                )
            finally:
                await conn.close()
            elapsed, rss, caught_up, report = await through_gateway(path, database_url, amqp_url)
            assert report["inserted"] == rows, report
            floor_seconds = floor(floor_path, database_url)
            size_mb = path.stat().st_size / 1024**2
            print(
                f"{rows:>9,} rows ({size_mb:5.0f} MB): gateway {elapsed:6.1f} s = {rows / elapsed:8,.0f} rows/s, "
                f"peak RSS {rss:5.0f} MB | floor (psql \\copy) {floor_seconds:6.1f} s = "
                f"{rows / floor_seconds:8,.0f} rows/s | gateway/floor = {elapsed / floor_seconds:.2f}x | "
                f"search caught up {caught_up:5.1f} s after",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
