"""The whole path of a reply: a two-step sequence sent through the emulator with its
Reply-To token, the prospect's answer in through SNS, the projector's stop, the follow-up
for the others only, and the forward received by the emulator."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from aiohttp.test_utils import TestClient, TestServer

from event_ingest.app import create_app as create_ingest
from event_ingest.settings import EventIngestSettings
from projector.app import create_app as create_projector
from projector.settings import ProjectorSettings
from sender.adapters.ses import ses_gateway
from sender.app import RUNNER
from sender.domain import Cadence
from sender.forwarding import INTERRUPTED_AFTER_SECONDS, ForwardRules, on_forward_requested
from sender.work import Clock
from shared.events import ReplyForwardRequested, ReplyForwardRequestedData
from shared.lifecycle import inbound
from shared.settings import SesAccess
from tests.harness import sns
from tests.harness.roles import as_service
from tests.harness.sending import request_send, running_sender, seed_campaign, seed_prospects, wait_for_status

pytestmark = pytest.mark.integration
REPLY_DOMAIN = "replies.example.com"
SECRET = "webhook-secret-0123456789"


async def wait_for(predicate, timeout: float = 60.0):
    async with asyncio.timeout(timeout):
        while not (value := await predicate()):
            await asyncio.sleep(0.05)
        return value


def answer(sent_mime, prospect, text: str) -> bytes:
    """The prospect's answer from their mail client: to the Reply-To, in the thread."""
    headers = {
        "From": f"{prospect['first_name']} {prospect['last_name']} <{sent_mime['To']}>",
        "To": sent_mime["Reply-To"], "Subject": f"Re: {sent_mime['Subject']}",
        "Message-ID": f"<{uuid.uuid4().hex}@mail.example.org>", "In-Reply-To": sent_mime["Message-ID"] or "",
        "MIME-Version": "1.0", "Content-Type": "text/plain; charset=utf-8",
    }  # fmt: skip
    return ("".join(f"{name}: {value}\r\n" for name, value in headers.items()) + f"\r\n{text}\r\n").encode()


async def test_a_reply_stops_the_sequence_is_counted_and_is_forwarded(
    backends, make_vhost, ses_emulator
):  # fmt: skip
    database_url, amqp_url, pool = backends
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    await ses_emulator.verify_identity(REPLY_DOMAIN)
    replier, other = await seed_prospects(pool, 2)
    step = {"id": str(uuid.uuid4()), "wait": "PT1H", "body_html": "<p>Any thoughts, {{ first_name }}?</p>"}
    campaign_id = await seed_campaign(pool, steps=[step], reply_to="dana@example.com")
    clock = Clock()
    async with sns.cert_server() as certs:
        ingest_settings = EventIngestSettings(
            database_url=as_service(database_url, "event-ingest"), amqp_url=amqp_url, ses_webhook_secret=SECRET,
            ses_mode="emulator", ses_endpoint_url=ses_emulator.endpoint_url, sns_topic_arns=sns.TOPIC_ARN,
            sns_trusted_cert_url=certs.trusted_pattern, reply_domain=REPLY_DOMAIN, outbox_poll_seconds=0.5,
        )  # fmt: skip
        projector_settings = ProjectorSettings(
            database_url=as_service(database_url, "projector"), amqp_url=amqp_url, outbox_poll_seconds=0.5
        )
        async with (
            TestClient(TestServer(create_ingest(ingest_settings))) as ingest,
            TestServer(create_projector(projector_settings)),
            running_sender(
                database_url, amqp_url, ses_emulator.endpoint_url, clock=clock, reply_domain=REPLY_DOMAIN
            ) as sender,
        ):
            await request_send(pool, campaign_id)
            first = await wait_for(lambda: _two(ses_emulator))
            by_to = {m.mime["To"]: m for m in first}
            sent = by_to[replier["email"]].mime
            assert sent["Reply-To"].endswith(f"@{REPLY_DOMAIN}") and "+" in sent["Reply-To"]

            raw = answer(sent, replier, "Yes, let's talk on Tuesday.")
            notification, _ = sns.received(raw, inline=True, recipients=[sent["Reply-To"]])
            response = await ingest.post(
                "/api/webhooks/ses-inbound",
                data=json.dumps(sns.notification(notification, certs.cert_url)),
                headers={"Content-Type": "text/plain", "x-amz-sns-message-type": "Notification"},
            )
            assert response.status == 200, await response.text()
            stopped = await wait_for(lambda: pool.fetchval(
                "SELECT reason FROM sequence_stops WHERE campaign_id = $1 AND prospect_id = $2",
                campaign_id, replier["id"],
            ))  # fmt: skip
            assert stopped == "reply"

            # An hour on: the follow-up is due; only the one who did not answer gets it.
            clock.offset = timedelta(hours=1, minutes=1)
            sender.app[RUNNER].waiting_changed.set()
            assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
            forward = await wait_for(lambda: _forward(ses_emulator))
            replied = await wait_for(lambda: pool.fetchval(
                "SELECT replied FROM campaign_stats WHERE campaign_id = $1 AND replied > 0", campaign_id
            ))  # fmt: skip

    steps = dict(await pool.fetch(
        "SELECT prospect_id, array_agg(step ORDER BY step) FROM email_sends WHERE campaign_id = $1 GROUP BY 1",
        campaign_id,
    ))  # fmt: skip
    assert steps == {replier["id"]: [1], other["id"]: [1, 2]}
    assert replied == 1
    step_stats = dict(await pool.fetch(
        "SELECT step, replied FROM campaign_step_stats WHERE campaign_id = $1", campaign_id
    ))  # fmt: skip
    assert step_stats[1] == 1
    assert await pool.fetchval(
        "SELECT replied_at IS NOT NULL FROM send_status s JOIN email_sends e ON e.id = s.send_id"
        " WHERE e.prospect_id = $1", replier["id"],
    )  # fmt: skip

    mime = forward.mime
    assert mime["To"] == "dana@example.com" and mime["Reply-To"].addresses[0].addr_spec == replier["email"]
    sender = mime["From"].addresses[0]
    assert sender.display_name == f"{replier['first_name']} {replier['last_name']} via Outreach"
    assert sender.addr_spec == f"replies@{REPLY_DOMAIN}"
    (attached,) = [part for part in mime.iter_attachments() if part.get_content_type() == "message/rfc822"]
    original = attached.get_content()
    assert "Yes, let's talk on Tuesday." in original.get_content()
    outcome = await pool.fetchval("SELECT outcome FROM reply_forwards")
    assert outcome == "sent"
    assert datetime.now(UTC) - (await pool.fetchval("SELECT max(received_at) FROM inbound_mail")) < timedelta(
        hours=1
    )


@asynccontextmanager
async def gateway_for(emulator):
    settings = SesAccess(ses_mode="emulator", ses_endpoint_url=emulator.endpoint_url)
    async with ses_gateway(settings, configuration_set=None, timeout=10) as gateway:
        yield gateway


async def _two(emulator):
    messages = await emulator.sent_messages()
    return messages if len(messages) >= 2 else None


async def _forward(emulator):
    for message in await emulator.sent_messages():
        if message.mime["To"] == "dana@example.com":
            return message
    return None


async def test_a_forward_goes_once_however_often_it_is_asked_and_an_interrupted_one_stays_unknown(
    backends, ses_emulator
):  # fmt: skip
    _, _, pool = backends
    await ses_emulator.reset()
    await ses_emulator.verify_identity(REPLY_DOMAIN)
    raw = b"From: Pat <pat@example.org>\r\nSubject: Re: Hello\r\n\r\nYes please.\r\n"
    ids = []
    for n in range(2):
        inbound_id = await pool.fetchval(
            "INSERT INTO inbound_mail (ses_message_id, sns_message_id, received_at, notification, raw, processed_at,"
            " classification, from_address, from_name, subject) VALUES ($1, 'sns', now(), '{}', $2, now(), 'reply',"
            " 'pat@example.org', 'Pat', 'Re: Hello') RETURNING id",
            f"inbound-{n}", raw,
        )  # fmt: skip
        await pool.execute("INSERT INTO reply_forwards (inbound_id, forward_to) VALUES ($1, 'dana@example.com')",
                           inbound_id)  # fmt: skip
        ids.append(inbound_id)
    async with gateway_for(ses_emulator) as ses:
        asked = ReplyForwardRequested.new(ReplyForwardRequestedData(inbound_id=ids[0]))
        forward = partial(on_forward_requested, pool=pool, ses=ses, cadence=Cadence(0.01),
                          rules=ForwardRules(REPLY_DOMAIN))  # fmt: skip
        await asyncio.gather(forward(asked), forward(asked), forward(asked))  # redelivered, concurrently
        assert len(await ses_emulator.sent_messages()) == 1, "never twice"
        # A sender killed after the claim: the claim, older than any SES call, becomes unknown.
        await pool.execute(
            "UPDATE reply_forwards SET outcome = 'claimed', claimed_at = now() - interval '10 minutes'"
            " WHERE inbound_id = $1", ids[1],
        )  # fmt: skip
        assert await inbound.reconcile_forwards(pool, INTERRUPTED_AFTER_SECONDS) == 1
        await forward(ReplyForwardRequested.new(ReplyForwardRequestedData(inbound_id=ids[1])))
    outcomes = dict(await pool.fetch("SELECT inbound_id, outcome FROM reply_forwards"))
    assert outcomes == {ids[0]: "sent", ids[1]: "unknown"}
    assert len(await ses_emulator.sent_messages()) == 1, "an unknown forward is never sent again"
