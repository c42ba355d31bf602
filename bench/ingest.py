"""The SES webhook under load, and the projection lag behind it.

    python -m bench.ingest [--burst 20000] [--rate 500] [--seconds 60]

Starts event-ingest and the projector as processes on a fresh database, then
from this process (loopback HTTP):
1. burst: --burst distinct SES events as fast as 64 connections take them,
   with the webhook alone (the projector starts afterwards and drains the
   backlog), then half as many with the projector running: accepted
   events/s and p50/p99 latency; and, each way, --offered events/s for 10 s
   (open loop): the latency at that load;
2. steady: --rate events/s for --seconds: the projector's lag (now minus the
   occurred_at of the last applied event), sampled each second from /metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.common import (
    Usage,
    bench_vhost,
    fresh_database,
    machine_line,
    percentile,
    post_all,
    service,
)
from shared import db
from tests.harness.histories import new_world, seed_world

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "eventbridge"
SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 - a local benchmark
KINDS = ("delivery.json", "open.json", "click.json", "send.json")
HEADERS = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
KIND_OBJECT = {"delivery.json": "delivery", "open.json": "open", "click.json": "click", "send.json": "send"}


def payloads(count: int, worlds: list) -> list[bytes]:
    """Events for the seeded sends (their own SES message ids), each at its own time (now
    onwards, a millisecond apart) so none is a repeat of another."""
    templates = [json.loads((FIXTURES / name).read_text()) for name in KINDS]
    start = datetime.now(UTC)
    out = []
    for i in range(count):
        world = worlds[i % len(worlds)]
        index = (i // len(worlds)) % len(world.sends)
        payload = copy.deepcopy(templates[i % len(templates)])
        payload["id"] = str(uuid.uuid4())
        mail = payload["detail"]["mail"]
        mail["messageId"] = f"ses-{world.sends[index].hex}"
        when = (start + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z")
        mail["timestamp"] = when
        own = payload["detail"].get(KIND_OBJECT[KINDS[i % len(KINDS)]])
        if isinstance(own, dict):
            own["timestamp"] = when
        mail["tags"].update({
            "send_id": [str(world.sends[index])], "campaign_id": [str(world.campaign_id)],
            "prospect_id": [str(world.prospects[index])],
        })  # fmt: skip
        out.append(json.dumps(payload).encode())
    return out


async def lag_samples(metrics_url: str, stop: asyncio.Event) -> list[float]:
    samples = []
    # The gauge is set as events are applied: until the first steady event is,
    # it still holds the lag of the burst's last one.
    await asyncio.sleep(1)
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            async with http.get(metrics_url) as response:
                for line in (await response.text()).splitlines():
                    if line.startswith("outreach_projection_lag_seconds "):
                        samples.append(float(line.split()[1]))
            await asyncio.sleep(1)
    return samples


async def published(database_url: str, timeout: float = 300) -> None:
    """Wait until the outbox relay has published every stored event."""
    async with db.pool_context(database_url) as pool, asyncio.timeout(timeout):
        while await pool.fetchval("SELECT EXISTS (SELECT 1 FROM events WHERE published_at IS NULL)"):
            await asyncio.sleep(0.1)


async def drain(database_url: str, since: float, timeout: float = 300) -> float:
    """Wait until the projector has applied every stored event; seconds since `since`."""
    async with db.pool_context(database_url) as pool, asyncio.timeout(timeout):
        while await pool.fetchval(
            "SELECT (SELECT count(*) FROM events)"
            " > (SELECT count(*) FROM processed_events WHERE consumer = 'projector')"
        ):
            await asyncio.sleep(0.1)
    return time.perf_counter() - since


async def burst(
    phase: str, url: str, bodies: list[bytes], rate: float | None = None, pid: int | None = None
) -> None:
    """Post the bodies; print the rate, the latency, and (given the serving process) its CPU
    per request and how busy the whole machine was."""
    usage, started = Usage(pid), time.perf_counter()
    latencies = await post_all(url, bodies, headers=HEADERS, rate=rate)
    elapsed = time.perf_counter() - started
    print(
        f"{phase}: {len(bodies):,} events in {elapsed:.1f} s = {len(bodies) / elapsed:,.0f} accepted/s; "
        f"latency p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
        f"{usage.line(len(bodies))}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument(
        "--offered", type=float, default=2000, help="open-loop rate for 10 s (latency at load)"
    )
    parser.add_argument(
        "--target", type=float, default=1000, help="the open-loop rate of the webhook's p99 target (for 10 s)"
    )
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    async with bench_vhost(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "ingest"
    ) as amqp_url:
        await measure(args, base, amqp_url)


async def measure(args: argparse.Namespace, base: str, amqp_url: str) -> None:
    database_url = await fresh_database(base, "outreach_bench_ingest")
    worlds = [new_world(50) for _ in range(20)]
    async with db.pool_context(database_url) as pool, pool.acquire() as conn:
        for world in worlds:
            await seed_world(conn, world)
    env = {
        "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "SES_WEBHOOK_SECRET": SECRET,
        "HTTP_WORKERS": os.environ.get("HTTP_WORKERS", "1"), "DB_POOL_MAX": os.environ.get("DB_POOL_MAX", "10"),
    }  # fmt: skip
    print(await machine_line("client, event-ingest, projector, PostgreSQL, RabbitMQ share it"), flush=True)
    async with contextlib.AsyncExitStack() as services:
        ingest, ingest_pid = await services.enter_async_context(
            service("event_ingest", env, "EVENT_INGEST_PORT")
        )
        url = f"{ingest}/api/webhooks/ses-events"
        # The webhook alone (as where the projector runs on other machines: the broker keeps
        # the events for it), then with the projector on the same two cores.
        await burst("burst, webhook alone", url, payloads(args.burst, worlds), pid=ingest_pid)
        await published(database_url)  # the relay has sent the burst on: the next phase starts level
        for rate in (args.offered, args.target):
            await burst(f"offered {rate:,.0f}/s, webhook alone", url,
                        payloads(int(rate * 10), worlds), rate=rate, pid=ingest_pid)  # fmt: skip
            await published(database_url)
        # The reference, in the same run: a bare aiohttp handler that parses the JSON and answers.
        async with service("bench.bare_http", {}, "BARE_HTTP_PORT") as (bare, bare_pid):
            await burst(
                "reference: burst, bare aiohttp handler",
                f"{bare}/",
                payloads(args.burst, worlds),
                pid=bare_pid,
            )
            await burst(f"reference: offered {args.target:,.0f}/s, bare aiohttp handler", f"{bare}/",
                        payloads(int(args.target * 10), worlds), rate=args.target, pid=bare_pid)  # fmt: skip
        async with db.pool_context(database_url) as pool:
            backlog = await pool.fetchval("SELECT count(*) FROM events")
        started = time.perf_counter()
        projector, projector_pid = await services.enter_async_context(
            service("projector", env, "PROJECTOR_PORT")
        )
        usage = Usage(projector_pid)
        took = await drain(database_url, started)
        print(
            f"the projector, started then, applied that backlog of {backlog:,} events in {took:.1f} s = "
            f"{backlog / took:,.0f} events/s (start-up included){usage.line(backlog, 'an event')}",
            flush=True,
        )
        started = time.perf_counter()
        await burst("burst, projector running", url, payloads(args.burst // 2, worlds), pid=ingest_pid)
        print(
            f"the projector applied all of it {await drain(database_url, started):.1f} s after the burst began"
        )
        for rate in (args.offered, args.target):
            await burst(f"offered {rate:,.0f}/s, projector running", url,
                        payloads(int(rate * 10), worlds), rate=rate, pid=ingest_pid)  # fmt: skip
            await drain(database_url, time.perf_counter())
        stop = asyncio.Event()
        sampler = asyncio.create_task(lag_samples(f"{projector}/metrics", stop))
        steady = payloads(int(args.rate * args.seconds), worlds)
        started = time.perf_counter()
        latencies = await post_all(url, steady, headers=HEADERS, rate=args.rate)
        elapsed = time.perf_counter() - started
        stop.set()
        lags = await sampler
        print(
            f"steady: {len(steady):,} events at {len(steady) / elapsed:,.0f}/s; latency p50 "
            f"{statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms; projection lag "
            f"p50 {statistics.median(lags):.2f} s, max {max(lags):.2f} s ({len(lags)} samples)",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
