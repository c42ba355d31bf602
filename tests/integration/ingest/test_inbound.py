"""POST /api/webhooks/ses-inbound against real Postgres, RabbitMQ and the emulator's S3:
signed SNS messages in, each mail stored once, read (inline or from S3), matched,
classified; forgeries refused with nothing stored."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from string import Template

import pytest
from aiobotocore.session import get_session
from aiohttp.test_utils import TestClient, TestServer
from botocore.config import Config

from event_ingest.app import create_app
from event_ingest.settings import EventIngestSettings
from shared import db
from tests.harness import sns
from tests.harness.roles import as_service
from tests.harness.sending import seed_campaign, seed_prospects
from tests.integration.ingest.conftest import SECRET

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inbound"
REPLY_DOMAIN = "replies.example.com"
BUCKET = "outreach-inbound"


@pytest.fixture
async def inbound(make_database, make_vhost, ses_emulator):
    """event-ingest with the inbound webhook trusting a local certificate server: (client, pool, certs)."""
    database_url, amqp_url = await make_database(), await make_vhost()
    async with sns.cert_server() as certs:
        settings = EventIngestSettings(
            database_url=as_service(database_url, "event-ingest"), amqp_url=amqp_url, ses_webhook_secret=SECRET,
            ses_mode="emulator", ses_endpoint_url=ses_emulator.endpoint_url, sns_topic_arns=sns.TOPIC_ARN,
            sns_trusted_cert_url=certs.trusted_pattern, reply_domain=REPLY_DOMAIN,
        )  # fmt: skip
        async with (
            TestClient(TestServer(create_app(settings))) as client,
            db.pool_context(database_url) as pool,
        ):
            yield client, pool, certs


async def sent(pool, campaign_id, prospect, step: int = 1) -> dict:
    """A send of ours as the sender records it: its SES message id and Reply-To token."""
    row = await pool.fetchrow(
        "INSERT INTO email_sends (campaign_id, prospect_id, prospect_seq, unsubscribe_token, outcome, ses_message_id,"
        " reply_token, step, step_id, attempted_at) VALUES ($1, $2, $3, $4, 'sent', $5, $6, $7, $8, now())"
        " RETURNING id, ses_message_id, reply_token",
        campaign_id, prospect["id"], prospect["seq"], secrets.token_urlsafe(24),
        f"0100018c{uuid.uuid4().hex}-000000", secrets.token_hex(12).translate(str.maketrans("0189", "wxyz")),
        step, uuid.UUID(int=step - 1) if step > 1 else uuid.UUID(int=0),
    )  # fmt: skip
    return dict(row)


def mail(name: str, send: dict, prospect, *, token: bool = True, **values: str) -> bytes:
    reply_to = f"dana+{send['reply_token']}@{REPLY_DOMAIN}" if token else "dana@example.com"
    return Template((FIXTURES / name).read_text()).substitute({
        "message_id": send["ses_message_id"], "first_message_id": send["ses_message_id"], "subject": "Hello",
        "from_name": f"{prospect['first_name']} {prospect['last_name']}", "from_address": prospect["email"],
        "reply_to": reply_to, "reply_domain": REPLY_DOMAIN, **values,
    }).encode()  # fmt: skip


async def deliver(client, certs, raw: bytes, *, inline: bool = True, **options) -> tuple[int, dict, str]:
    notification, ses_id = sns.received(raw, inline=inline, **options)
    body = sns.notification(notification, certs.cert_url)
    response = await post(client, body)
    return response.status, await response.json(), ses_id


async def post(client, body: dict | bytes, message_type: str | None = None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    kind = message_type or (body.get("Type") if isinstance(body, dict) else "Notification")
    return await client.post(
        "/api/webhooks/ses-inbound", data=data,
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": kind},
    )  # fmt: skip


async def processed(pool, ses_id: str, timeout: float = 30.0):
    async with asyncio.timeout(timeout):
        while True:
            row = await pool.fetchrow(
                "SELECT * FROM inbound_mail WHERE ses_message_id = $1 AND processed_at IS NOT NULL", ses_id
            )
            if row is not None:
                return row
            await asyncio.sleep(0.05)


@asynccontextmanager
async def s3_client(endpoint_url: str):
    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        config=Config(s3={"addressing_style": "path"}),
    ) as client:
        yield client


async def events_of(pool, kind: str) -> list[dict]:
    rows = await pool.fetch("SELECT data, version FROM events WHERE type = $1 ORDER BY position", kind)
    return [{**row["data"], "version": row["version"]} for row in rows]


@pytest.fixture
async def campaign(inbound):
    _, pool, _ = inbound
    prospects = await seed_prospects(pool, 3)
    campaign_id = await seed_campaign(pool, reply_to="dana@example.com")
    return campaign_id, prospects


async def test_a_reply_by_its_token_is_stored_once_matched_and_forwarded(inbound, campaign):
    client, pool, certs = inbound
    campaign_id, (prospect, *_) = campaign
    send = await sent(pool, campaign_id, prospect)
    raw = mail("gmail-reply.eml", send, prospect)
    status, answer, ses_id = await deliver(client, certs, raw)
    assert (status, answer["result"]) == (200, "stored")
    row = await processed(pool, ses_id)
    assert (row["classification"], row["match_method"]) == ("reply", "token")
    assert (row["prospect_id"], row["campaign_id"], row["send_id"], row["step"]) == (
        prospect["id"],
        campaign_id,
        send["id"],
        1,
    )
    assert row["raw"] == raw and "Tuesday afternoon works" in row["text_body"] and row["flagged"] is None
    (replied,) = await events_of(pool, "prospect.replied")
    assert replied["send_id"] == str(send["id"]) and replied["campaign_id"] == str(campaign_id)
    forward = await pool.fetchrow("SELECT * FROM reply_forwards WHERE inbound_id = $1", row["id"])
    assert (forward["forward_to"], forward["outcome"]) == ("dana@example.com", "pending")
    assert len(await events_of(pool, "reply.forward_requested")) == 1

    # SNS delivers again (a retry, or a duplicate): the same mail, stored once, processed once.
    again = sns.notification(sns.received(raw, inline=True, key=ses_id)[0], certs.cert_url)
    response = await post(client, again)
    assert (await response.json())["result"] == "duplicate"
    assert await pool.fetchval("SELECT count(*) FROM inbound_mail") == 1
    assert len(await events_of(pool, "prospect.replied")) == 1
    assert certs.fetches == 1, "the certificate is fetched once and kept"


async def test_a_large_mail_is_read_from_s3_and_a_reply_without_token_matches_by_its_thread(
    inbound, campaign, ses_emulator
):
    client, pool, certs = inbound
    campaign_id, (prospect, *_) = campaign
    send = await sent(pool, campaign_id, prospect)
    attachment = "\n".join(secrets.token_hex(38) for _ in range(28_000))  # over 2 MB of base64-like text
    raw = mail("outlook-reply.eml", send, prospect, token=False).replace(
        b"JVBERi0xLjQKJcfsj6IKMSAwIG9iago=", attachment.encode()
    )
    assert len(raw) > 2 * 1024**2
    ses_id = uuid.uuid4().hex
    async with s3_client(ses_emulator.endpoint_url) as s3:
        await s3.create_bucket(Bucket=BUCKET)
        await s3.put_object(Bucket=BUCKET, Key=ses_id, Body=raw)
    status, answer, _ = await deliver(client, certs, raw, inline=False, key=ses_id, bucket=BUCKET)
    assert (status, answer["result"]) == (200, "stored")
    row = await processed(pool, ses_id)
    assert (row["classification"], row["match_method"], row["send_id"]) == ("reply", "thread", send["id"])
    assert row["raw"] == raw and row["size_bytes"] == len(raw)
    (attached,) = row["attachments"]
    assert attached["filename"] == "requirements.pdf" and attached["size"] > 1024**2
    # Kept here, its S3 copy is deleted: an erasure then deletes the only copy.
    async with asyncio.timeout(30):
        while await pool.fetchval("SELECT s3_key FROM inbound_mail WHERE id = $1", row["id"]) is not None:
            await asyncio.sleep(0.05)
    async with s3_client(ses_emulator.endpoint_url) as s3:
        listed = await s3.list_objects_v2(Bucket=BUCKET)
    assert listed.get("KeyCount", 0) == 0


async def test_automatic_answers_reports_removals_and_strangers_are_each_what_they_are(inbound, campaign):
    client, pool, certs = inbound
    campaign_id, (away, gone, leaving) = campaign
    away_send, gone_send, leaving_send = [await sent(pool, campaign_id, p) for p in (away, gone, leaving)]
    kinds = {}
    for name, send, prospect in [
        ("out-of-office-de.eml", away_send, away),
        ("dsn.eml", gone_send, gone),
        ("unsubscribe-request.eml", leaving_send, leaving),
        ("unmatched.eml", None, None),
    ]:
        raw = mail(name, send or away_send, prospect or away)
        _, _, ses_id = await deliver(client, certs, raw)
        kinds[name] = await processed(pool, ses_id)
    assert kinds["out-of-office-de.eml"]["classification"] == "auto_reply"
    assert kinds["dsn.eml"]["classification"] == "bounce"
    assert kinds["unsubscribe-request.eml"]["classification"] == "unsubscribe_request"
    stranger = kinds["unmatched.eml"]
    assert stranger["prospect_id"] is None and stranger["match_method"] is None, "kept, listed as unmatched"
    (auto,) = await events_of(pool, "prospect.auto_replied")
    assert auto["prospect_id"] == str(away["id"])
    assert await events_of(pool, "prospect.replied") == [], "neither is a reply"
    (opt_out,) = await events_of(pool, "prospect.unsubscribed")
    assert (
        opt_out["version"] == 2
        and opt_out["source"] == "reply"
        and opt_out["send_id"] == str(leaving_send["id"])
    )
    assert await pool.fetchval("SELECT status FROM prospects WHERE id = $1", leaving["id"]) == "unsubscribed"
    forwards = dict(await pool.fetch("SELECT m.classification, f.outcome FROM reply_forwards f"
                                     " JOIN inbound_mail m ON m.id = f.inbound_id"))  # fmt: skip
    assert forwards == {"unsubscribe_request": "pending"}, (
        "the removal goes to the owner, marked; not the others"
    )


async def test_a_reply_from_a_known_address_matches_the_latest_send_and_spam_is_never_forwarded(
    inbound, campaign
):
    client, pool, certs = inbound
    campaign_id, (prospect, spammer, _) = campaign
    await sent(pool, campaign_id, prospect, step=1)
    latest = await sent(pool, campaign_id, prospect, step=2)
    raw = (
        f"From: {prospect['email'].upper()}\nTo: dana@example.com\nSubject: Quick question\n"
        "Content-Type: text/plain\n\nAre you the people who wrote last week?\n"
    ).encode()
    _, _, ses_id = await deliver(client, certs, raw)
    row = await processed(pool, ses_id)
    assert (row["match_method"], row["send_id"], row["step"]) == ("sender", latest["id"], 2)
    spam_send = await sent(pool, campaign_id, spammer)
    _, _, ses_id = await deliver(client, certs, mail("gmail-reply.eml", spam_send, spammer), spam="FAIL")
    flagged = await processed(pool, ses_id)
    assert flagged["flagged"] == "spam" and flagged["classification"] == "reply"
    assert (
        await pool.fetchval("SELECT count(*) FROM reply_forwards WHERE inbound_id = $1", flagged["id"]) == 0
    )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda m, certs: {**m, "Message": m["Message"].replace("Received", "Receivedx")}, id="tampered"
        ),
        pytest.param(
            lambda m, certs: sns.sign({**m, "TopicArn": "arn:aws:sns:us-east-1:1:theirs"}), id="topic"
        ),
        pytest.param(
            lambda m, certs: sns.sign({**m, "SigningCertURL": "https://evil.example/x.pem"}), id="cert-url"
        ),
        pytest.param(lambda m, certs: {**m, "SignatureVersion": "1"}, id="version-swap"),
    ],
)
async def test_a_forged_or_foreign_message_is_refused_and_nothing_is_stored(inbound, campaign, forge):
    client, pool, certs = inbound
    notification, _ = sns.received(b"From: a@example.org\n\nhi\n", inline=True)
    response = await post(client, forge(sns.notification(notification, certs.cert_url), certs))
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    assert await pool.fetchval("SELECT count(*) FROM inbound_mail") == 0
    assert await pool.fetchval("SELECT count(*) FROM rejected_payloads") == 0
    response = await post(client, b"not json", "Notification")
    assert response.status == 403


async def test_a_subscription_is_confirmed_only_after_its_checks(inbound):
    client, _, certs = inbound
    good = sns.confirmation(certs.base_url, certs.cert_url)
    response = await post(client, good)
    assert response.status == 200 and (await response.json())["result"] == "confirmed"
    assert certs.confirmations == [good["Token"]]
    foreign = sns.confirmation(certs.base_url, certs.cert_url, topic_arn="arn:aws:sns:us-east-1:1:theirs")
    response = await post(client, foreign)
    assert response.status == 403 and certs.confirmations == [good["Token"]], "not fetched"
