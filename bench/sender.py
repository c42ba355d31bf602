"""The sender's cadence and ceiling against a local zero-latency SES stub.

    python -m bench.sender [--seconds 60] [--rates 5 50 500]

For each rate: a fresh database, rate x seconds prospects, one campaign sent
by a real sender process (python -m sender) to the stub in this process.
Prints the achieved rate (from the stub's arrival times) against the
configured one, and the p50/p99 deviation of the gaps between sends from the
interval. Then the ceiling: one sender process with no rate limit to speak of.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time

from bench.common import bench_vhost, fresh_database, machine, service
from shared import db
from tests.harness.sending import FROM_EMAIL, PUBLIC_BASE_URL, request_send, seed_campaign, seed_prospects
from tests.harness.ses_stub import running_stub

BENCH_DB = "outreach_bench_sender"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(rate: float, count: int, base_url: str, amqp_url: str, **extra_env: str) -> dict[str, float]:
    database_url = await fresh_database(base_url, BENCH_DB)
    async with db.pool_context(database_url) as pool, running_stub() as stub:
        await seed_prospects(pool, count)
        campaign_id = await seed_campaign(pool)
        env = {
            "DATABASE_URL": database_url, "AMQP_URL": amqp_url,
            "SES_MODE": "emulator", "SES_ENDPOINT_URL": stub.endpoint_url,
            "SES_FROM_EMAIL": FROM_EMAIL, "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SEND_RATE_PER_SECOND": str(rate),
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", **extra_env,
        }  # fmt: skip
        stub.account = None  # quota unknown: the configured rate rules
        async with service("sender", env, "SENDER_PORT"):
            await request_send(pool, campaign_id)
            async with asyncio.timeout(count / rate * 3 + 120):
                while len(stub.received) < count:
                    await asyncio.sleep(0.05)
        times = [r.at for r in stub.received]
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
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 50, 500])
    parser.add_argument("--ceiling-sends", type=int, default=20_000)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    async with bench_vhost(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "sender"
    ) as amqp_url:
        await measure(args, base, amqp_url)


async def measure(args: argparse.Namespace, base: str, amqp_url: str) -> None:
    print(f"machine: {machine()}; SES stub in the bench process, zero latency", flush=True)
    for rate in args.rates:
        r = await run(rate, int(rate * args.seconds) + 1, base, amqp_url)
        error = (r["achieved"] - rate) / rate * 100
        print(
            f"rate {rate:>6g}/s: achieved {r['achieved']:9.3f}/s ({error:+.2f} %) over {r['seconds']:5.1f} s, "
            f"{r['sends']:,} sends; gap deviation from the interval p50 {r['p50_ms']:.2f} ms, "
            f"p99 {r['p99_ms']:.2f} ms",
            flush=True,
        )
    started = time.perf_counter()
    r = await run(100_000, args.ceiling_sends, base, amqp_url, SEND_MAX_IN_FLIGHT="64")
    print(
        f"ceiling (one process, rate unlimited): {r['achieved']:,.0f} sends/s over {r['sends']:,} sends "
        f"({time.perf_counter() - started:.0f} s with set-up)",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
