"""RFC 8058 one-click POSTs against the unsubscribe service (rate limit off).

    python -m bench.unsubscribe [--requests 10000] [--connections 32]

The service runs as its own process on a fresh database with one send (and
token) per request; this process posts `List-Unsubscribe=One-Click` to each
token once, over loopback: first as fast as --connections go, then offered at
each of --rates per second for 10 s; it prints requests/s, latency percentiles
(offered: from the moment each was due) and the service's CPU a request of each,
and checks that every request opted its prospect out, with its event. Every
request is a first-time opt-out: a status change and an event. The reference, in
the same run: a bare aiohttp handler (bench.bare_http) that parses the form.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time

import aiohttp

from bench.common import Usage, bench_vhost, fresh_database, machine_line, percentile, service
from shared import db
from tests.harness.sending import seed_campaign, seed_prospects


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
    url: str, tokens: list[str], connections: int, rate: float | None = None
) -> tuple[float, list[float]]:
    """POST each token once: as fast as `connections` go, or offered at `rate` per second (the
    latency then counts from the moment each was due, a wait for a connection included)."""
    queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
    latencies: list[float] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        while (item := await queue.get()) is not None:
            due, token = item
            started = due if rate is not None else time.perf_counter()
            async with http.post(
                url, params={"token": token}, data={"List-Unsubscribe": "One-Click"}
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"one-click answered {response.status}")
            latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        workers = [asyncio.create_task(worker(http)) for _ in range(connections)]
        started = time.perf_counter()
        for i, token in enumerate(tokens):
            due = started + i / rate if rate is not None else 0.0
            if rate is not None and (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((due, token))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return time.perf_counter() - started, latencies


async def measured(
    phase: str, pid: int, url: str, tokens: list[str], connections: int, rate: float | None = None
) -> None:
    """hammer, and print its figures with the serving process's CPU a request."""
    usage = Usage(pid)
    elapsed, latencies = await hammer(url, tokens, connections, rate)
    print(
        f"{phase}: {len(latencies):,} requests in {elapsed:.1f} s = {len(latencies) / elapsed:,.0f}/s with "
        f"{connections} connections; latency p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms{usage.line(len(latencies))}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[500, 1000], help="offered rates, 10 s each"
    )
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    amqp = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    async with bench_vhost(amqp, "unsubscribe") as amqp_url:
        database_url = await fresh_database(base_url, "outreach_bench_unsubscribe")
        offered = [int(rate * 10) for rate in args.rates]
        tokens = await seed(database_url, args.requests + sum(offered))
        env = {
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "UNSUBSCRIBE_RATE_LIMIT_ENABLED": "false",
            "HTTP_WORKERS": os.environ.get("HTTP_WORKERS", "1"),
        }
        print(await machine_line("client, service, PostgreSQL and RabbitMQ share it"), flush=True)
        async with service("unsubscribe", env, "UNSUBSCRIBE_PORT") as (base, pid):
            url = f"{base}/api/unsubscribe"
            await measured(
                "one-click, as fast as it goes", pid, url, tokens[: args.requests], args.connections
            )
            start = args.requests
            for rate, count in zip(args.rates, offered, strict=True):
                await asyncio.sleep(2)
                await measured(f"one-click, offered at {rate:,.0f}/s", pid, url, tokens[start : start + count],
                               args.connections, rate)  # fmt: skip
                start += count
        # The reference, in the same run: a bare aiohttp handler that parses the form and answers.
        async with service("bench.bare_http", {}, "BARE_HTTP_PORT") as (bare, bare_pid):
            await measured("reference: bare aiohttp handler, as fast as it goes", bare_pid, f"{bare}/",
                           tokens[: args.requests], args.connections)  # fmt: skip
            await measured(f"reference: bare aiohttp handler, offered at {args.rates[0]:,.0f}/s", bare_pid,
                           f"{bare}/", tokens[: offered[0]], args.connections, args.rates[0])  # fmt: skip
        async with db.pool_context(database_url) as pool:  # every answer must have opted out for real
            opted_out = await pool.fetchval("SELECT count(*) FROM prospects WHERE status = 'unsubscribed'")
            events = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'prospect.unsubscribed'")
    print(f"effect: {opted_out:,} prospects opted out, {events:,} events", flush=True)
    if opted_out != len(tokens) or events != len(tokens):
        raise SystemExit("the opt-outs do not match the requests")


if __name__ == "__main__":
    asyncio.run(main())
