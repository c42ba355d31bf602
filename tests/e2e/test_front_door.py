"""The one public origin: the front door routes by path to the three public services, keeps
the operators' routes to the services' own ports, answers its own refusals as JSON, and
logs no query string. A real message's one-click link works through it."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from tests.e2e.stack import Stack
from tests.harness.ses_emulator import sent_messages_at
from tests.harness.ses_events import addressed

pytestmark = pytest.mark.faults

PRIVATE = ("/metrics", "/healthz", "/readyz", "/internal/anything")


@pytest.mark.parametrize("path", PRIVATE)
async def test_operator_routes_are_not_public(stack: Stack, path: str):
    async with stack.client() as http:
        async with http.get(f"{stack.public_url}{path}") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "not_found"
        if path != "/internal/anything":  # each service's own port still answers the operator
            async with http.get(f"{stack.urls['api-gateway']}{path}") as response:
                assert response.status == 200


async def test_the_admin_app_is_served_at_the_origin(stack: Stack):
    async with stack.client() as http:
        async with http.get(f"{stack.public_url}/", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/admin/"
        async with http.get(f"{stack.public_url}/admin/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            assert "default-src" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "Server" not in response.headers and "Via" not in response.headers
        async with http.get(f"{stack.public_url}/api/campaigns") as response:
            assert response.status == 401  # routed to the gateway, which wants a token


async def test_a_body_over_the_service_limit_is_refused_at_the_edge_as_json(stack: Stack):
    headers = {"X-Webhook-Secret": stack.webhook_secret, "Content-Type": "application/json"}
    body = json.dumps({"detail": "x" * 300 * 1024}).encode()
    async with (
        stack.client() as http,
        http.post(f"{stack.public_url}/api/webhooks/ses-events", data=body, headers=headers) as response,
    ):
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_a_real_message_unsubscribes_in_one_click_through_the_front_door(stack: Stack):
    domain = f"{uuid.uuid4().hex[:10]}.front-door.example"
    address = f"door@{domain}"
    async with stack.client(headers=stack.admin_headers()) as http:
        async with http.post(f"{stack.public_url}/api/prospects", json={"email": address}) as response:
            assert response.status == 201, await response.text()
            prospect = await response.json()
        campaign = {
            "name": f"front door {address}", "subject": "Hello", "from_email": "outreach@example.com",
            "body_html": '<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
            "audience": {"rule": {"field": "email_domain", "op": "eq", "value": domain}},
        }  # fmt: skip
        async with http.post(f"{stack.public_url}/api/campaigns", json=campaign) as response:
            assert response.status == 201, await response.text()
            campaign_id = (await response.json())["id"]
        async with http.post(
            f"{stack.public_url}/api/campaigns/send", json={"campaignId": campaign_id}
        ) as response:
            assert response.status < 300, await response.text()

        message = await _message_to(stack, address)
        link = message.mime["List-Unsubscribe"].strip("<>")
        assert link.startswith(f"{stack.public_url}/api/unsubscribe?"), link
        assert message.mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # SES reports the delivery through the webhook at the same origin.
        send = await _send_of(stack, campaign_id)
        event = json.dumps(addressed("delivery", send)).encode()
        hook = {"X-Webhook-Secret": stack.webhook_secret, "Content-Type": "application/json"}
        async with http.post(
            f"{stack.public_url}/api/webhooks/ses-events", data=event, headers=hook
        ) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["result"] == "stored"

        # The mailbox provider's one-click POST (RFC 8058), as Gmail makes it.
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        async with http.post(link, data=b"List-Unsubscribe=One-Click", headers=form) as response:
            assert response.status == 200, await response.text()
        async with asyncio.timeout(30):
            while True:
                async with http.get(f"{stack.public_url}/api/prospects/{prospect['id']}") as response:
                    if (await response.json())["status"] == "unsubscribed":
                        break
                await asyncio.sleep(0.2)

    if stack.run_dir is not None:  # the front door's access log is in the stack's log here
        token = link.split("token=", 1)[1].split("&", 1)[0]
        log = (stack.run_dir / "stack.log").read_text(errors="replace")
        assert '"uri":"/api/unsubscribe?…"' in log  # the request was logged, its query string not
        assert token not in log


async def _message_to(stack: Stack, address: str):
    async with asyncio.timeout(60):
        while True:
            for message in await sent_messages_at(stack.ses_url):
                if address in message.destinations:
                    return message
            await asyncio.sleep(0.2)


async def _send_of(stack: Stack, campaign_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(stack.database_url)
    try:
        async with asyncio.timeout(60):
            while True:
                send = await conn.fetchrow(
                    "SELECT id, campaign_id, prospect_id, ses_message_id FROM email_sends"
                    " WHERE campaign_id = $1 AND ses_message_id IS NOT NULL",
                    uuid.UUID(campaign_id),
                )
                if send is not None:
                    return send
                await asyncio.sleep(0.2)
    finally:
        await conn.close()
