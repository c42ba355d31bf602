"""Campaigns reach exactly their audience: two campaigns to disjoint segments, sent
through the gateway, the sender and the SES emulator, each mail exactly its segment's
members; a frequency cap keeps the second campaign off whoever the first just reached."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from api_gateway.app import create_app as create_gateway
from shared import db
from tests.harness.gateway import ADMIN, FROM_EMAIL, gateway_settings
from tests.harness.roles import as_service
from tests.harness.sending import running_sender

pytestmark = pytest.mark.integration


async def test_disjoint_segments_and_a_frequency_cap(make_database, make_vhost, ses_emulator):
    database_url, amqp_url = await make_database(), await make_vhost()
    await ses_emulator.reset()
    await ses_emulator.verify_identity(FROM_EMAIL.split("@")[1])
    run = uuid.uuid4().hex[:6]
    gateway = TestServer(create_gateway(gateway_settings(database_url, amqp_url)), host="127.0.0.1")
    await gateway.start_server()
    api = str(gateway.make_url("")).rstrip("/")
    try:
        async with (
            db.pool_context(database_url) as pool,
            running_sender(as_service(database_url, "sender"), amqp_url, ses_emulator.endpoint_url),
            ClientSession(headers=ADMIN) as http,
        ):

            async def call(method: str, path: str, **kwargs):
                async with http.request(method, f"{api}{path}", **kwargs) as response:
                    body = await response.json() if response.content_type == "application/json" else None
                    assert response.status < 300, (path, response.status, body)
                    return body

            rows = ["email,first_name,tags"]
            rows += [f"eu{i}-{run}@recipients.example,Eu{i},EU;lead" for i in range(6)]
            rows += [f"us{i}-{run}@recipients.example,Us{i},us" for i in range(4)]
            rows += [f"both-{run}@recipients.example,Both,eu;us", f"none-{run}@recipients.example,None,"]
            await call("POST", "/api/prospects/import", data="\n".join(rows).encode(),
                       headers={"Content-Type": "text/csv"})  # fmt: skip

            async def segment(name: str, rule: dict) -> str:
                return (await call("POST", "/api/segments", json={"name": f"{name} {run}", "rule": rule}))[
                    "id"
                ]

            has_eu, has_us = ({"field": "tags", "op": "has", "value": t} for t in ("eu", "us"))
            eu = await segment("EU", has_eu)
            us_only = await segment("US only", {"all": [has_us, {"not": has_eu}]})

            async def send(name: str, audience: dict, **extra) -> str:
                campaign = await call("POST", "/api/campaigns", json={
                    "name": name, "subject": "Hello {{ first_name }}", "from_email": FROM_EMAIL,
                    "body_html": '<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
                    "audience": audience, **extra,
                })  # fmt: skip
                return campaign["id"]

            async def completed(campaign_id: str) -> None:
                async with asyncio.timeout(60):
                    while await pool.fetchval(
                        "SELECT status FROM email_campaigns WHERE id = $1", uuid.UUID(campaign_id)
                    ) != "completed":  # fmt: skip
                        await asyncio.sleep(0.1)

            async def mailed() -> set[str]:
                return {m.destinations[0].split("-")[0] for m in await ses_emulator.sent_messages()}

            first = await send("EU", {"segment_id": eu})
            detail = await call("GET", f"/api/campaigns/{first}")
            assert detail["stats"]["eligible"] == 7  # the count shown before Send
            await call("POST", "/api/campaigns/send", json={"campaignId": first})
            await completed(first)
            assert await mailed() == {f"eu{i}" for i in range(6)} | {"both"}

            # Disjoint: the US-only segment, with a week's cap; "both" was just mailed and
            # is not in it anyway; every US-only member is reached.
            second = await send("US", {"segment_id": us_only}, frequency_cap_days=7)
            await call("POST", "/api/campaigns/send", json={"campaignId": second})
            await completed(second)
            sent = await ses_emulator.sent_messages()
            assert len(sent) == 11
            assert {m.destinations[0].split("-")[0] for m in sent[7:]} == {f"us{i}" for i in range(4)}

            # A third campaign to everyone tagged lead or us, capped: all of them were
            # contacted this week, so nobody is eligible and nothing is sent.
            third = await send("All", {"rule": {"any": [{"field": "tags", "op": "has", "value": "lead"},
                                                        {"field": "tags", "op": "has", "value": "us"}]}},
                               frequency_cap_days=7)  # fmt: skip
            assert (await call("GET", f"/api/campaigns/{third}"))["stats"]["eligible"] == 0
            uncapped = await call("PATCH", f"/api/campaigns/{third}", json={"frequency_cap_days": None})
            assert uncapped["frequency_cap_days"] is None
            assert (await call("GET", f"/api/campaigns/{third}"))["stats"]["eligible"] == 11

            # The segment of a campaign that may still send cannot be deleted.
            async with http.delete(f"{api}/api/segments/{eu}") as response:
                assert response.status == 204  # its campaign completed
            await send("pending", {"segment_id": us_only})
            async with http.delete(f"{api}/api/segments/{us_only}") as response:
                assert response.status == 409
                assert (await response.json())["error"]["code"] == "segment_in_use"
    finally:
        await gateway.close()
