"""Every service starts from its entry point, answers /readyz, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest

from tests.harness.ses_emulator import free_port

pytestmark = pytest.mark.integration

SERVICES = [
    ("api_gateway", "GATEWAY_PORT"),
    ("event_ingest", "EVENT_INGEST_PORT"),
    ("unsubscribe", "UNSUBSCRIBE_PORT"),
    ("sender", "SENDER_PORT"),
    ("projector", "PROJECTOR_PORT"),
]


async def wait_ready(url: str, process: asyncio.subprocess.Process, timeout: float = 30) -> dict:
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            assert process.returncode is None, "the service exited during start-up"
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return await response.json()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


def production_env(database_url: str, amqp_url: str, **changes: str) -> dict[str, str]:
    """What a real deployment sets: OUTREACH_ENV=production, secrets of 32+ characters, https."""
    return {
        **os.environ, "OUTREACH_ENV": "production", "DATABASE_URL": database_url, "AMQP_URL": amqp_url,
        "HTTP_HOST": "127.0.0.1", "PROXY_SHARED_SECRET": "p" * 32, "ADMIN_JWT_SECRET": "j" * 32,
        "SUPPRESSION_HASH_KEY": "k" * 32,
        "SES_WEBHOOK_SECRET": "w" * 32, "SES_FROM_EMAIL": "outreach@example.com",
        "PUBLIC_BASE_URL": "https://links.example.com", "SENDER_POSTAL_ADDRESS": "Example Ltd | 1 Main Street",
        "LOG_FORMAT": "json", **changes,
    }  # fmt: skip


@pytest.mark.parametrize(("module", "port_variable"), SERVICES)
async def test_service_starts_ready_and_stops_on_sigterm(module, port_variable, database_url, amqp_url):
    port = free_port()
    env = production_env(database_url, amqp_url, **{port_variable: str(port)})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        ready = await wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        assert ready["checks"] == {"database": "ok", "broker": "ok"}
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = (await process.stderr.read()).decode()
    assert '"event": "starting"' in stderr
    assert "Traceback" not in stderr


# Each service that reads a secret or the public base URL, given a value production refuses.
REFUSED = [
    ("api_gateway", "ADMIN_JWT_SECRET", "dev-admin-jwt-secret-change-me-please"),
    ("api_gateway", "PROXY_SHARED_SECRET", "dev-proxy-secret-change-me"),
    ("api_gateway", "SUPPRESSION_HASH_KEY", "dev-suppression-hash-key-change-me"),
    ("api_gateway", "PUBLIC_BASE_URL", "http://localhost:8082"),
    ("event_ingest", "SES_WEBHOOK_SECRET", "dev-webhook-secret-change-me"),
    ("event_ingest", "SES_WEBHOOK_SECRET", "w" * 31),
    ("sender", "PUBLIC_BASE_URL", "http://localhost:8082"),
    ("sender", "SENDER_POSTAL_ADDRESS", " "),
]


@pytest.mark.parametrize(("module", "setting", "value"), REFUSED)
async def test_production_refuses_to_start_on_an_example_value(
    module, setting, value, database_url, amqp_url
):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=production_env(database_url, amqp_url, **{setting: value}),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{module.replace('_', '-')}: OUTREACH_ENV is production: ")
    assert setting in lines[0]
    if "SECRET" in setting:
        assert value not in err.decode(), "the refused secret is not echoed"


async def test_several_workers_share_the_port_and_all_stop_on_sigterm(database_url, amqp_url):
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "UNSUBSCRIBE_PORT": str(port),
        "HTTP_HOST": "127.0.0.1", "HTTP_WORKERS": "2", "LOG_FORMAT": "json",
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "unsubscribe", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        pids = set()
        async with asyncio.timeout(20):
            while len(pids) < 2:
                # A fresh connection each time: the kernel spreads them over the workers.
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{port}/healthz") as response,
                ):
                    pids.add((await response.json())["pid"])
        assert process.pid not in pids, "the parent only supervises"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
