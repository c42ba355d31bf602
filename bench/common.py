"""Helpers the benchmarks share: a service process to measure, machine facts."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from shared import db
from shared.migrations import migrate_database
from tests.harness.gateway import FROM_EMAIL, JWT_SECRET, PROXY_SECRET, PUBLIC_BASE_URL
from tests.harness.vhosts import create_vhost, delete_vhost, with_vhost

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem_kb / 1024**2:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


# The calibration workloads (issue 20): fixed, so a figure from one machine can be read on
# another by the ratio of their calibrations (docs/benchmarks.md lists each machine's).
PYTHON_LOOP = 10_000_000
ROUND_TRIPS = 2_000


def python_loop_seconds(repeats: int = 3) -> float:
    """The best of `repeats` runs of a bare 10M-iteration loop that adds (CPU-bound Python)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for i in range(PYTHON_LOOP):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


async def round_trip_microseconds(database_url: str, repeats: int = 3) -> float:
    """The best of `repeats` mean times of SELECT 1 on one connection (PostgreSQL and the loop)."""
    conn = await asyncpg.connect(db.with_database(database_url, "postgres"))
    try:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                await conn.fetchval("SELECT 1")
            best = min(best, (time.perf_counter() - started) / ROUND_TRIPS)
        return best * 1e6
    finally:
        await conn.close()


async def machine_line(note: str = "", database_url: str | None = None) -> str:
    """What every bench prints first: the machine, and its calibration measured now."""
    url = database_url or os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    loop = python_loop_seconds()
    trip = await round_trip_microseconds(url)
    return (
        f"machine: {machine()}{'; ' + note if note else ''}\n"
        f"calibration: Python loop of {PYTHON_LOOP:,} additions {loop:.3f} s (best of 3); "
        f"PostgreSQL round trip {trip:.0f} µs (SELECT 1 x {ROUND_TRIPS:,} on one connection, best of 3)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used so far (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


class Usage:
    """The CPU a serving process and the whole machine use from now on."""

    def __init__(self, pid: int | None) -> None:
        self._pid = pid
        self._cpu = cpu_seconds(pid) if pid else 0.0
        self._busy = machine_busy_seconds()
        self._started = time.perf_counter()

    def line(self, count: int, what: str = "a request") -> str:
        """'; N µs CPU <what> (the process's, over `count`); machine M of C cores busy'."""
        busy = (machine_busy_seconds() - self._busy) / (time.perf_counter() - self._started)
        cost = (
            f"; {(cpu_seconds(self._pid) - self._cpu) / count * 1e6:,.0f} µs CPU {what}" if self._pid else ""
        )
        return f"{cost}; machine {busy:.2f} of {os.cpu_count()} cores busy"


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@asynccontextmanager
async def service(module: str, env: dict[str, str], port_variable: str) -> AsyncIterator[tuple[str, int]]:
    """Run `python -m module` until the block ends; yields (base URL, pid). The benchmarks'
    secrets are their own, on this machine: the service runs in development."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module,
        env={"OUTREACH_ENV": "development", "MX_CHECK_ENABLED": "false", "DOMAIN_RATE_PER_MINUTE": "0",
             "WARMUP_SCHEDULE": "off", **os.environ, **env, port_variable: str(port),
             "HTTP_HOST": "127.0.0.1", "LOG_LEVEL": "warning"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"{module} exited with {process.returncode} before it was ready")
                try:
                    async with http.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        yield base, process.pid
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@asynccontextmanager
async def bench_vhost(amqp_url: str, name: str) -> AsyncIterator[str]:
    """A RabbitMQ vhost of the benchmark's own (no stale queues in, none left behind)."""
    parts = urlsplit(amqp_url)
    management = os.environ.get(
        "RABBITMQ_MANAGEMENT_URL",
        f"http://{parts.username or 'guest'}:{parts.password or 'guest'}@{parts.hostname or '127.0.0.1'}:15672",
    )
    vhost = f"outreach-bench-{name}"
    await delete_vhost(management, vhost)
    await create_vhost(management, vhost, parts.username or "guest")
    try:
        yield with_vhost(amqp_url, vhost)
    finally:
        await delete_vhost(management, vhost)


async def fresh_database(base_url: str, name: str) -> str:
    """Drop and re-create a benchmark database with the current schema."""
    admin = await asyncpg.connect(db.with_database(base_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    url = db.with_database(base_url, name)
    await db.ensure_database(url)
    await migrate_database(url)
    return url


def gateway_env(database_url: str, amqp_url: str, **extra: str) -> dict[str, str]:
    """What a benchmark's gateway process reads (the test harness's secrets)."""
    return {
        "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "ADMIN_JWT_SECRET": JWT_SECRET,
        "SUPPRESSION_HASH_KEY": "bench-suppression-hash-key-0123456789",
        "PROXY_SHARED_SECRET": PROXY_SECRET, "SES_FROM_EMAIL": FROM_EMAIL, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        **extra,
    }  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def answered_200(status: int, _: bytes) -> bool:
    return status == 200


async def post_all(
    url: str, bodies: list[bytes], *, headers: Mapping[str, str], rate: float | None = None, workers: int = 64,
    accepted: Callable[[int, bytes], bool] = answered_200,
) -> list[float]:  # fmt: skip
    """POST each body over `workers` connections, as fast as they go or (`rate`) offered at
    that many a second, open loop; the latency of each in ms, from the moment it was due
    (offered at a rate, a request that waits for a free connection counts its wait). An
    answer `accepted` refuses stops the benchmark."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def worker(http: aiohttp.ClientSession) -> None:
        while (item := await queue.get()) is not None:
            due, body = item
            started = due if rate is not None else time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                if not accepted(response.status, answer):
                    raise RuntimeError(f"the service answered {response.status}: {answer[:200]!r}")
            latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as http:
        tasks = [asyncio.create_task(worker(http)) for _ in range(workers)]
        started = time.perf_counter()
        for i, body in enumerate(bodies):
            due = started + i / rate if rate is not None else 0.0
            if rate is not None and (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            await queue.put((due, body))
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)
    return latencies
