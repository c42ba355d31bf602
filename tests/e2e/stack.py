"""A running Outreach stack for the end-to-end suites: given by URLs, or started here with `make run`.

The suites reach what the world reaches (the admin app and API, the webhooks, the
unsubscribe page) through the front door, `public_url`, as the world does; the services'
own ports (`urls`) are for what only operators reach (/readyz, /metrics).

Given: E2E_PUBLIC_URL (the front door; E2E_CA_FILE when its certificate is from a
private CA, as Caddy's internal one for localhost), E2E_GATEWAY_URL, E2E_INGEST_URL,
E2E_UNSUBSCRIBE_URL, E2E_SENDER_URL, E2E_PROJECTOR_URL, E2E_SES_URL, DATABASE_URL (for the audits), the stack's
ADMIN_JWT_SECRET and SES_WEBHOOK_SECRET, and the fault commands
E2E_KILL_COMMAND (with {service}; e.g. `docker compose kill -s KILL {service}`),
E2E_RESTART_RABBITMQ and E2E_RESTART_POSTGRES. Not given: this module starts
infra/run_local.py on a fresh database and vhost with free ports, and the
faults act on this machine (SIGKILL by PID file, rabbitmqctl, pg_ctlcluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import jwt

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("api-gateway", "event-ingest", "unsubscribe", "sender", "projector")
PORT_VARIABLES = {
    "api-gateway": "GATEWAY_PORT", "event-ingest": "EVENT_INGEST_PORT", "unsubscribe": "UNSUBSCRIBE_PORT",
    "sender": "SENDER_PORT", "projector": "PROJECTOR_PORT",
}  # fmt: skip


@dataclass
class Stack:
    public_url: str  # the front door: one origin for everything public
    urls: dict[str, str]  # service -> its own base URL (operators' routes)
    ses_url: str
    database_url: str
    admin_secret: str
    webhook_secret: str
    amqp_url: str | None = None  # known for a stack started here
    proxy_secret: str | None = None
    run_dir: Path | None = None
    faults: list[str] = field(default_factory=list)  # what was done, for the report
    fault_times: list[tuple[float, str]] = field(default_factory=list)  # (epoch seconds, what)
    ca_file: str | None = None  # the front door's CA when it is not a public one

    def client(self, **kwargs) -> aiohttp.ClientSession:
        """An HTTP client that trusts the front door's certificate."""
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context or True), **kwargs)

    def _note(self, what: str) -> None:
        self.faults.append(what)
        self.fault_times.append((time.time(), what))

    def admin_headers(self) -> dict[str, str]:
        now = int(time.time())
        claims = {"sub": "e2e", "email": "e2e@example.com", "aud": "authenticated",
                  "app_metadata": {"role": "admin"}, "iat": now, "exp": now + 3600}  # fmt: skip
        return {"Authorization": f"Bearer {jwt.encode(claims, self.admin_secret, algorithm='HS256')}"}

    async def ready(self, timeout: float = 60) -> None:
        """Every service answers /readyz (database and broker reachable), and the front door
        routes to the gateway."""
        checks = [f"{url}/readyz" for url in self.urls.values()] + [f"{self.public_url}/admin/"]
        async with self.client() as http, asyncio.timeout(timeout):
            for check in checks:
                while True:
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(check) as response:
                            if response.status == 200:
                                break
                    await asyncio.sleep(0.2)

    async def kill(self, service: str) -> None:
        """SIGKILL one service (its supervisor starts it again)."""
        self._note(f"SIGKILL {service}")
        if command := os.environ.get("E2E_KILL_COMMAND"):
            await _shell(command.format(service=service))
            return
        assert self.run_dir is not None
        pid = int((self.run_dir / f"{service}.pid").read_text())
        os.kill(pid, signal.SIGKILL)

    async def restart_rabbitmq(self) -> None:
        self._note("RabbitMQ restarted")
        await _shell(
            os.environ.get("E2E_RESTART_RABBITMQ", "rabbitmqctl -q stop_app && rabbitmqctl -q start_app")
        )

    async def restart_postgres(self) -> None:
        self._note("PostgreSQL restarted")
        default = (
            'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main restart'
        )
        await _shell(os.environ.get("E2E_RESTART_POSTGRES", default))


async def _shell(command: str) -> None:
    process = await asyncio.create_subprocess_shell(
        command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(120):
        out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"`{command}` failed ({process.returncode}): {out.decode()[-2000:]}")


def given_stack() -> Stack | None:
    gateway = os.environ.get("E2E_GATEWAY_URL")
    if not gateway:
        return None
    names = {"api-gateway": "GATEWAY", "event-ingest": "INGEST", "unsubscribe": "UNSUBSCRIBE",
             "sender": "SENDER", "projector": "PROJECTOR"}  # fmt: skip
    return Stack(
        public_url=os.environ["E2E_PUBLIC_URL"].rstrip("/"),
        ca_file=os.environ.get("E2E_CA_FILE") or None,
        urls={service: os.environ[f"E2E_{name}_URL"] for service, name in names.items()},
        ses_url=os.environ["E2E_SES_URL"],
        database_url=os.environ["DATABASE_URL"],
        admin_secret=os.environ["ADMIN_JWT_SECRET"],
        webhook_secret=os.environ["SES_WEBHOOK_SECRET"],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def local_stack(
    database_url: str, amqp_url: str, run_dir: Path, **settings: str
) -> AsyncIterator[Stack]:
    """`make run` (infra/run_local.py) on the given database and vhost, on free ports."""
    ports = {service: _free_port() for service in SERVICES}
    ses_port, public_port = _free_port(), _free_port()
    secrets = {
        "ADMIN_JWT_SECRET": "e2e-admin-jwt-secret-0123456789abcdef",
        "SES_WEBHOOK_SECRET": "e2e-webhook-secret-012345",
        "PROXY_SHARED_SECRET": "e2e-proxy-secret-0123456789",
        "SUPPRESSION_HASH_KEY": "e2e-suppression-hash-key-0123456789",
    }
    env = {
        **os.environ, "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "OUTREACH_RUN_DIR": str(run_dir),
        "SES_EMULATOR_PORT": str(ses_port), "LOG_FORMAT": "json", "LOG_LEVEL": "warning",
        "PUBLIC_PORT": str(public_port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{public_port}",
        "OUTBOX_POLL_SECONDS": "0.5",
        **{PORT_VARIABLES[s]: str(p) for s, p in ports.items()}, **secrets, **settings,
    }  # fmt: skip
    env.pop("SES_ENDPOINT_URL", None)
    log = (run_dir / "stack.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "infra" / "run_local.py"), env=env, stdout=log, stderr=log
    )
    stack = Stack(
        public_url=f"http://127.0.0.1:{public_port}",
        urls={s: f"http://127.0.0.1:{p}" for s, p in ports.items()}, ses_url=f"http://127.0.0.1:{ses_port}",
        database_url=database_url, admin_secret=secrets["ADMIN_JWT_SECRET"],
        webhook_secret=secrets["SES_WEBHOOK_SECRET"], run_dir=run_dir, amqp_url=amqp_url,
        proxy_secret=secrets["PROXY_SHARED_SECRET"],
    )  # fmt: skip
    try:
        await stack.ready(timeout=90)
        yield stack
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(60):
                    await process.wait()
            except TimeoutError:
                process.kill()
        log.close()
