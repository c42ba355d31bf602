"""A local SES v2 emulator (moto in server mode) reached over HTTP.

Tests talk to it through aiobotocore exactly as the services do, and read
back what was sent from moto's own state API.
"""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
from aiobotocore.session import get_session
from botocore.config import Config

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SentMessage:
    """One message the emulator accepted, parsed back from its raw MIME."""

    message_id: str
    source: str
    destinations: tuple[str, ...]
    raw: str

    @property
    def mime(self) -> EmailMessage:
        parsed = email.message_from_string(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SesEmulator:
    def __init__(self, endpoint_url: str, process: subprocess.Popen[bytes]) -> None:
        self.endpoint_url = endpoint_url
        self._process = process

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        """An SES v2 client as the services build it: no SDK retries."""
        session = get_session()
        async with session.create_client(
            "sesv2",
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            **CREDENTIALS,
        ) as client:
            yield client

    async def verify_identity(self, identity: str) -> None:
        async with self.client() as ses:
            await ses.create_email_identity(EmailIdentity=identity)

    async def sent_messages(self) -> list[SentMessage]:
        """Every raw message accepted since the last reset, oldest first."""
        return await sent_messages_at(self.endpoint_url)

    async def reset(self) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.endpoint_url}/moto-api/reset") as response,
        ):
            response.raise_for_status()

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


async def sent_messages_at(endpoint_url: str) -> list[SentMessage]:
    """Every raw message the emulator at this address accepted since its last reset, oldest first."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{endpoint_url}/moto-api/data.json") as response,
    ):
        response.raise_for_status()
        state = await response.json(content_type=None)
    return [
        SentMessage(
            message_id=entry["id"],
            source=entry.get("source", ""),
            # moto lists a Destination given both as argument and header twice
            destinations=tuple(dict.fromkeys(entry.get("destinations", []))),
            raw=entry["raw_data"],
        )
        for entry in state.get("ses", {}).get("RawMessage", [])
    ]


def start_ses_emulator(timeout: float = 30.0) -> SesEmulator:
    port = free_port()
    moto_server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the SES emulator (moto_server) exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return SesEmulator(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the SES emulator (moto_server) did not start in time")
