"""Erasure erases: a prospect imported, mailed (SES emulator), reported on by SES, unsubscribed
through the link in the message, then erased. Afterwards a dump of the whole database, the
dead-letter queues and the services' log lines hold no trace of the address or of any
personal field; an import of the address comes back suppressed, and the next campaign does
not mail it. Every service runs in this process, each as its own PostgreSQL role."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from api_gateway.app import create_app as create_gateway
from event_ingest.app import create_app as create_ingest
from event_ingest.settings import EventIngestSettings
from projector.app import create_app as create_projector
from projector.settings import ProjectorSettings
from shared import db, dead_letters
from shared.topology import CONSUMER_QUEUES, EVENTS_EXCHANGE
from tests.harness.gateway import ADMIN, gateway_settings
from tests.harness.roles import as_service
from tests.harness.sending import running_sender
from tests.harness.ses_events import addressed
from unsubscribe.app import create_app as create_unsubscribe
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.integration

SECRET = "erasure-webhook-secret-0123456789"
TIMEOUT = 60.0


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def eventually(check, timeout: float = TIMEOUT):
    """Wait for a fact (check() truthy) and answer it."""
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
    return found


def dump(database_url: str) -> str:
    result = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", database_url], capture_output=True, text=True, check=True,
        timeout=120,
    )  # fmt: skip
    return result.stdout


async def test_an_erased_prospect_leaves_no_trace(make_database, make_vhost, ses_emulator, capfd):
    database_url, amqp_url = await make_database(), await make_vhost()
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    tag = uuid.uuid4().hex[:8]
    address = f"Emmeline.Gone-{tag}@recipients.example"
    personal = [
        f"Emmeline{tag}",
        f"Erasedottir{tag}",
        f"Pankhurst Works {tag}",
        f"Suffragist {tag}",
        f"WSPU-{tag}",
    ]
    kept = f"kept-{tag}@recipients.example"
    traces = [address.lower(), address.lower().replace("@", "%40"), *(p.lower() for p in personal)]

    common = {"amqp_url": amqp_url, "outbox_poll_seconds": 0.2}
    unsubscribe_settings = UnsubscribeSettings(**common, database_url=as_service(database_url, "unsubscribe"))
    async with (
        db.pool_context(database_url) as pool,
        serving(create_unsubscribe(unsubscribe_settings)) as unsubscribe_base,
        serving(create_gateway(gateway_settings(database_url, amqp_url, public_base_url=unsubscribe_base))) as api,
        serving(create_ingest(EventIngestSettings(**common, database_url=as_service(database_url, "event-ingest"),
                                                  ses_webhook_secret=SECRET))) as ingest,
        serving(create_projector(ProjectorSettings(**common, database_url=as_service(database_url, "projector")))),
        running_sender(database_url, amqp_url, ses_emulator.endpoint_url, public_base_url=unsubscribe_base),
        ClientSession() as http,
    ):  # fmt: skip

        async def call(method: str, path: str, **kwargs):
            async with http.request(method, f"{api}{path}", headers={**ADMIN, **kwargs.pop("headers", {})},
                                    **kwargs) as response:  # fmt: skip
                body = await response.json() if response.content_type == "application/json" else None
                assert response.status < 300, (path, response.status, body)
                return body

        async def run_campaign(name: str) -> str:
            campaign = await call("POST", "/api/campaigns", json={
                "name": name, "subject": "Hello {{ first_name }} {{ last_name }}",
                "from_email": "outreach@example.com",
                "body_html": '<p>Hi {{ first_name }} of {{ company }}</p>'
                             '<a href="{{ unsubscribe_url }}">Unsubscribe</a>',
                "body_text": "Hi {{ first_name }}\nUnsubscribe: {{ unsubscribe_url }}",
            })  # fmt: skip
            await call("POST", "/api/campaigns/send", json={"campaignId": campaign["id"]})

            async def completed():
                row = await pool.fetchrow(
                    "SELECT status FROM email_campaigns WHERE id = $1", uuid.UUID(campaign["id"])
                )
                return row["status"] == "completed"

            await eventually(completed)
            return campaign["id"]

        csv = (f"email,first_name,last_name,company,title,membership\n"
               f"{address},{','.join(personal)}\n"
               f"{kept},Kept,Person,,,\n")  # fmt: skip
        report = await call(
            "POST", "/api/prospects/import", data=csv.encode(), headers={"Content-Type": "text/csv"}
        )
        assert report["inserted"] == 2
        prospect_id = await pool.fetchval("SELECT id FROM prospects WHERE lower(email) = $1", address.lower())

        # Mailed, through the emulator.
        await run_campaign("First")
        [message] = [
            m for m in await ses_emulator.sent_messages() if m.destinations[0].lower() == address.lower()
        ]
        send = dict(await pool.fetchrow(
            "SELECT id, campaign_id, prospect_id, ses_message_id FROM email_sends WHERE prospect_id = $1", prospect_id
        ))  # fmt: skip

        # SES reports on it, with the address and the name in every payload.
        for kind in ("delivery", "open", "bounce-transient"):
            payload = addressed(kind, send)
            payload["detail"]["mail"]["destination"] = [address]
            payload["detail"]["mail"]["commonHeaders"] = {"to": [f"{personal[0]} {personal[1]} <{address}>"],
                                                          "subject": f"Hello {personal[0]} {personal[1]}"}  # fmt: skip
            async with http.post(f"{ingest}/api/webhooks/ses-events", json=payload,
                                 headers={"X-Webhook-Secret": SECRET}) as response:  # fmt: skip
                assert response.status == 200, await response.text()
        # A body the webhook refuses, quoting the address, is kept for the operator.
        refused = f'{{"to": "{address}", '.encode()
        refused_headers = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
        async with http.post(
            f"{ingest}/api/webhooks/ses-events", data=refused, headers=refused_headers
        ) as response:
            assert response.status == 400
        assert await pool.fetchval("SELECT count(*) FROM rejected_payloads") == 1

        # Unsubscribed through the link in the message (RFC 8058 one-click).
        link = message.mime["List-Unsubscribe"].strip("<>")
        async with http.post(link, data={"List-Unsubscribe": "One-Click"}) as response:
            assert response.status == 200
        await eventually(
            lambda: pool.fetchval("SELECT 1 FROM unsubscribes WHERE prospect_id = $1", prospect_id)
        )
        await eventually(lambda: pool.fetchval(
            "SELECT 1 FROM send_status WHERE send_id = $1 AND opened_at IS NOT NULL", send["id"]))  # fmt: skip

        # A message about them in a dead-letter queue: a stored event of theirs, in a version
        # no consumer knows (had events carried the address, the queue would hold it now).
        stored = await pool.fetchrow(
            "SELECT type, data FROM events WHERE type = 'ses.open' AND data->>'prospect_id' = $1",
            str(prospect_id),
        )
        body = {"event_id": str(uuid.uuid4()), "type": stored["type"], "version": 99,
                "occurred_at": "2026-12-01T00:00:00Z", "correlation_id": "erasure", "data": stored["data"]}  # fmt: skip
        connection = await aio_pika.connect_robust(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            await exchange.publish(aio_pika.Message(json.dumps(body).encode()), routing_key=stored["type"])
            projector_queue = dead_letters.consumer_queue("projector")

            async def dead_lettered():
                return await dead_letters.peek(connection, projector_queue)

            await eventually(dead_lettered)

            # Before the erasure the database holds the person, in more than one table.
            before = dump(database_url).lower()
            assert all(trace in before for trace in (address.lower(), personal[1].lower()))

            assert (await http.delete(f"{api}/api/prospects/{prospect_id}", headers=ADMIN)).status == 204

            after = dump(database_url).lower()
            for trace in traces:
                assert trace not in after, f"{trace} is still in the database"
            assert kept in after, "nobody else was erased"
            letters = [
                letter for queue in CONSUMER_QUEUES for letter in await dead_letters.peek(connection, queue)
            ]
            assert letters, "the dead letter is still there"
            for letter in letters:
                text = (
                    (letter.body + json.dumps(copy.deepcopy(letter.headers), default=str).encode())
                    .decode()
                    .lower()
                )
                assert not any(trace in text for trace in traces)

        # Imported again, the address comes back suppressed; the next campaign passes it by.
        again = await call("POST", "/api/prospects/import", data=f"email\n{address.upper()}\n".encode(),
                           headers={"Content-Type": "text/csv"})  # fmt: skip
        assert again["suppressed"] == 1
        await run_campaign("Second")
        to_them = [
            m for m in await ses_emulator.sent_messages() if m.destinations[0].lower() == address.lower()
        ]
        assert len(to_them) == 1, "mailed once, before the erasure; never again"
        assert sum(m.destinations[0] == kept for m in await ses_emulator.sent_messages()) == 2

    logged = "".join(capfd.readouterr()).lower()
    assert not any(trace in logged for trace in traces), "no log line names the person"
