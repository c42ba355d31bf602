"""`outreach doctor` (issue 13, operator tools): each check OK, FAIL with the fix, or UNKNOWN."""

from __future__ import annotations

import socket

import aio_pika
import pytest
from aiohttp.test_utils import TestServer

from shared.topology import declare_topology
from tests.harness.cli import run_outreach
from tests.harness.roles import as_service
from unsubscribe.app import create_app as create_unsubscribe
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lines_of(out: str) -> dict[str, str]:
    """check name -> verdict."""
    found = {}
    for line in out.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("OK", "FAIL", "UNKNOWN"):
            found[rest.strip().split(":")[0]] = verdict
    return found


@pytest.fixture
async def deployment(make_database, make_vhost, ses_emulator):
    """A migrated database, a broker with the topology, the emulator, the unsubscribe service."""
    database_url, amqp_url = await make_database(), await make_vhost()
    connection = await aio_pika.connect(amqp_url)
    async with connection, connection.channel() as channel:
        await declare_topology(channel, queue_type="quorum")
    await ses_emulator.verify_identity("example.com")
    settings = UnsubscribeSettings(database_url=as_service(database_url, "unsubscribe"), amqp_url=amqp_url)
    server = TestServer(create_unsubscribe(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield {
            "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "SES_MODE": "emulator",
            "SES_ENDPOINT_URL": ses_emulator.endpoint_url, "SES_FROM_EMAIL": "outreach@example.com",
            "PUBLIC_BASE_URL": str(server.make_url("")).rstrip("/"), "SES_WEBHOOK_SECRET": "w" * 24,
        }  # fmt: skip
    finally:
        await server.close()


async def test_a_healthy_deployment_passes_with_what_it_cannot_know_as_unknown(deployment):
    code, out, err = await run_outreach("doctor", **deployment)
    assert code == 0, out + err
    verdicts = lines_of(out)
    for name in ("database", "migrations", "broker", "queue outreach.sender.dead-letter", "unsubscribe page",
                 "webhook secret", "mail goes to"):  # fmt: skip
        assert verdicts[name] in ("OK", "UNKNOWN"), (name, out)
    assert verdicts["database"] == "OK" and verdicts["broker"] == "OK"
    assert verdicts["credentials"] == "OK"  # the emulator answered
    assert verdicts["account production access"] == "UNKNOWN"  # the emulator has no GetAccount
    assert "0 FAIL" in out


async def test_a_stopped_broker_fails_the_run_with_the_fix(deployment):
    down = {**deployment, "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{closed_port()}/"}
    code, out, _ = await run_outreach("doctor", **down)
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("FAIL") and "broker" in line)
    assert "start RabbitMQ" in line
    assert lines_of(out)["database"] == "OK", "the other checks still run"


async def test_dead_letters_and_a_missing_secret_are_failures(deployment):
    connection = await aio_pika.connect(deployment["AMQP_URL"])
    async with connection, connection.channel() as channel:
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}"), routing_key="outreach.projector.dead-letter"
        )
    code, out, _ = await run_outreach("doctor", **{**deployment, "SES_WEBHOOK_SECRET": ""})
    assert code == 1
    verdicts = lines_of(out)
    assert verdicts["queue outreach.projector.dead-letter"] == "FAIL"
    assert verdicts["webhook secret"] == "FAIL"
    assert "outreach dead-letters list --queue projector" in out
