"""RFC 8058 one-click POSTs against the unsubscribe service (rate limit off).

    python -m bench.unsubscribe [--requests 10000] [--connections 32]

The service runs as its own process on a fresh database with one send (and
token) per request; this process posts `List-Unsubscribe=One-Click` to each
token once, over loopback: first as fast as --connections go, then offered at
--rate per second; it prints requests/s and latency percentiles of each, and
checks that every request opted its prospect out, with its event.
Every request is a first-time opt-out: a status change and an event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time

import aiohttp

from bench.common import bench_vhost, fresh_database, machine_line, service
from shared import db
from tests.harness.sending import seed_campaign, seed_prospects


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def seed(database_url: str, count: int) -> list[str]:
    async with db.pool_context(database_url) as pool:
        prospects = await seed_prospects(pool, count)
        campaign_id = await seed_campaign(pool)
        tokens = [secrets.token_urlsafe(24) for _ in prospects]
        await pool.executemany(
            "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome)"
            " VALUES ($1, $2, $3, 'sent')",
            [(campaign_id, p["id"], t) for p, t in zip(prospects, tokens, strict=True)],
        )
    return tokens


async def hammer(
    base: str, tokens: list[str], connections: int, rate: float | None = None
) -> tuple[float, list[float]]:
    """POST each token once: as fast as `connections` go, or offered at `rate` per second."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    latencies: list[float] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        while (token := await queue.get()) is not None:
            started = time.perf_counter()
            async with http.post(
                f"{base}/api/unsubscribe", params={"token": token}, data={"List-Unsubscribe": "One-Click"}
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"one-click answered {response.status}")
            latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        workers = [asyncio.create_task(worker(http)) for _ in range(connections)]
        started = time.perf_counter()
        for i, token in enumerate(tokens):
            if rate is not None and (delay := started + i / rate - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(token)
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return time.perf_counter() - started, latencies


def report(phase: str, elapsed: float, latencies: list[float], connections: int) -> None:
    print(
        f"{phase}: {len(latencies):,} requests in {elapsed:.1f} s = {len(latencies) / elapsed:,.0f}/s with "
        f"{connections} connections; latency p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {pct(latencies, 0.99):.1f} ms",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000, help="the offered rate of the second phase")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    amqp = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    async with bench_vhost(amqp, "unsubscribe") as amqp_url:
        database_url = await fresh_database(base_url, "outreach_bench_unsubscribe")
        tokens = await seed(database_url, args.requests * 2)
        burst, steady = tokens[: args.requests], tokens[args.requests :]
        env = {
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "UNSUBSCRIBE_RATE_LIMIT_ENABLED": "false",
            "HTTP_WORKERS": os.environ.get("HTTP_WORKERS", "1"),
        }
        print(await machine_line("client, service, PostgreSQL and RabbitMQ share it"), flush=True)
        async with service("unsubscribe", env, "UNSUBSCRIBE_PORT") as (base, _):
            report(
                "one-click, as fast as it goes",
                *await hammer(base, burst, args.connections),
                args.connections,
            )
            await asyncio.sleep(2)
            elapsed, latencies = await hammer(base, steady, args.connections, rate=args.rate)
            report(f"one-click, offered at {args.rate:,.0f}/s", elapsed, latencies, args.connections)
        async with db.pool_context(database_url) as pool:  # every answer must have opted out for real
            opted_out = await pool.fetchval("SELECT count(*) FROM prospects WHERE status = 'unsubscribed'")
            events = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'prospect.unsubscribed'")
    print(f"effect: {opted_out:,} prospects opted out, {events:,} events", flush=True)
    if opted_out != len(tokens) or events != len(tokens):
        raise SystemExit("the opt-outs do not match the requests")


if __name__ == "__main__":
    asyncio.run(main())
