"""CSV import through the gateway's HTTP route, beside the psql \\copy floor.

    python -m bench.import [--sizes 100000 1000000]

For each size: a generated CSV (email, first_name, last_name, company, title,
city) is POSTed to /api/prospects/import of a freshly started gateway (into
an empty prospects table); then the same file is loaded with `psql \\copy`
into `floor`, a table with the columns and indexes of prospects (its unique
address index is on lower(email), since the file has no hash column). Prints
rows/s for both, the ratio, and the gateway's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import bench_vhost, fresh_database, gateway_env, machine, peak_rss_mb, service
from tests.harness.gateway import ADMIN

BENCH_DB = "outreach_bench_import"
FLOOR_TABLE = """
DROP TABLE IF EXISTS floor;
CREATE TABLE floor (LIKE prospects INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED
                    INCLUDING CONSTRAINTS);
ALTER TABLE floor ALTER COLUMN email_hash DROP NOT NULL, DROP CONSTRAINT IF EXISTS prospects_email_hash_check;
ALTER TABLE floor ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON floor (lower(email));
CREATE INDEX ON floor (seq) WHERE status = 'active';
CREATE INDEX ON floor (status, id);
CREATE INDEX ON floor USING gin (search_text gin_trgm_ops);
"""


def generate(path: Path, rows: int) -> None:
    rng = random.Random(rows)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus", "Margaret", "Donald"]
    last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Hamilton"]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "company", "title", "city"])
        for i in range(rows):
            given, family = rng.choice(first), rng.choice(last)
            writer.writerow([
                f"{given.lower()}.{family.lower()}.{i}@company{rng.randint(1, 20000)}.example.com", given, family,
                f"Company {rng.randint(1, 20000)} Ltd", "Head of Engineering", "Berlin",
            ])  # fmt: skip


async def through_gateway(path: Path, database_url: str, amqp_url: str) -> tuple[float, float, dict]:
    env = gateway_env(database_url, amqp_url, IMPORT_MAX_BYTES=str(1024**3))
    async with service("api_gateway", env, "GATEWAY_PORT") as (base, pid):
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
        return elapsed, peak_rss_mb(pid), report


def floor(path: Path, database_url: str) -> float:
    subprocess.run(["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", FLOOR_TABLE], check=True)
    started = time.perf_counter()
    subprocess.run(
        ["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
         f"\\copy floor (email, first_name, last_name, company, title) FROM PROGRAM "
         f"'cut -d, -f1-5 {path}' WITH (FORMAT csv, HEADER true)"],
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
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.sizes:
            path = Path(tmp) / f"prospects-{rows}.csv"
            generate(path, rows)
            database_url = await fresh_database(base, BENCH_DB)
            elapsed, rss, report = await through_gateway(path, database_url, amqp_url)
            assert report["inserted"] == rows, report
            floor_seconds = floor(path, database_url)
            size_mb = path.stat().st_size / 1024**2
            print(
                f"{rows:>9,} rows ({size_mb:5.0f} MB): gateway {elapsed:6.1f} s = {rows / elapsed:8,.0f} rows/s, "
                f"peak RSS {rss:5.0f} MB | floor (psql \\copy) {floor_seconds:6.1f} s = "
                f"{rows / floor_seconds:8,.0f} rows/s | gateway/floor = {elapsed / floor_seconds:.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
