"""The send loop against real Postgres, RabbitMQ and the SES emulator (moto over HTTP)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import re
from collections import Counter

import pytest

from api_gateway import campaigns
from tests.harness.sending import (
    PUBLIC_BASE_URL,
    RULES,
    campaign_status,
    outcomes,
    request_send,
    running_sender,
    seed_campaign,
    seed_prospects,
    wait_for_status,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def emulator(ses_emulator):
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    return ses_emulator


async def event_types(pool, campaign_id) -> Counter:
    rows = await pool.fetch("SELECT type FROM events WHERE data->>'campaign_id' = $1", str(campaign_id))
    return Counter(row["type"] for row in rows)


async def test_every_eligible_prospect_gets_exactly_one_rendered_message(backends, emulator):
    database_url, amqp_url, pool = backends
    prospects = await seed_prospects(pool, 12)
    await pool.execute(
        "UPDATE prospects SET first_name = '<b>Ann & Co</b>' WHERE id = $1", prospects[0]["id"]
    )
    unsubscribed = await seed_prospects(pool, 1, status="unsubscribed")
    bounced = await seed_prospects(pool, 1, status="bounced")
    erased_then_back = (await seed_prospects(pool, 1))[0]
    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason) SELECT email_hash, 'complained' FROM prospects WHERE id = $1",
        erased_then_back["id"],
    )
    campaign_id = await seed_campaign(pool)
    already = prospects[-1]
    await pool.execute(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome) VALUES ($1, $2, $3, 'sent')",
        campaign_id, already["id"], "x" * 32,
    )  # fmt: skip
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"

    sent = await emulator.sent_messages()
    expected = {p["email"] for p in prospects[:-1]}
    recipients = [m.destinations[0] for m in sent]
    assert sorted(recipients) == sorted(expected), "one message each, none to the excluded"
    excluded = {unsubscribed[0]["email"], bounced[0]["email"], erased_then_back["email"], already["email"]}
    assert not excluded & set(recipients)

    tokens = {
        row["email"]: row["unsubscribe_token"]
        for row in await pool.fetch(
            "SELECT p.email, s.unsubscribe_token FROM email_sends s JOIN prospects p ON p.id = s.prospect_id"
            " WHERE s.campaign_id = $1 AND s.outcome = 'sent'",
            campaign_id,
        )
    }
    for message in sent:
        mime = message.mime
        to = message.destinations[0]
        link = f"{PUBLIC_BASE_URL}/api/unsubscribe?token={tokens[to]}"
        assert mime["List-Unsubscribe"] == f"<{link}>"
        assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mime["Reply-To"] == "replies@example.com"
        assert mime["From"] == "Outreach <outreach@example.com>"
        html = mime.get_body(("html",)).get_content()
        text = mime.get_body(("plain",)).get_content()
        assert f'href="{link}"' in html
        assert link in text
        # The campaign's bodies lack the postal address: both parts carry the footer.
        assert "Outreach Test Ltd<br>1 Test Street<br>Testville TS1 1AA<br>" in html
        assert "Outreach Test Ltd\r\n1 Test Street\r\nTestville TS1 1AA\r\n" in text  # CRLF: QP's line ends
        assert {part["Content-Transfer-Encoding"] for part in mime.iter_parts()} == {"quoted-printable"}
        if to == prospects[0]["email"]:
            assert mime["Subject"] == "Hello <b>Ann & Co</b>"
            assert "&lt;b&gt;Ann &amp; Co&lt;/b&gt;" in html
            assert "Hi <b>Ann & Co</b>" in text
    assert len(set(tokens.values())) == len(tokens) and all(len(t) >= 22 for t in tokens.values())
    assert await outcomes(pool, campaign_id) == {"sent": 12}
    events = await event_types(pool, campaign_id)
    assert events["send.attempted"] == 11
    assert events["campaign.completed"] == 1


async def test_a_second_send_request_sends_nothing_new(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 5)
    campaign_id = await seed_campaign(pool)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "completed")
        # A stray request for the finished campaign (as if redelivered) is ignored.
        await pool.execute("UPDATE email_campaigns SET status = 'sending' WHERE id = $1", campaign_id)
        await pool.execute("UPDATE email_campaigns SET status = 'paused' WHERE id = $1", campaign_id)
        await request_send(pool, campaign_id)  # resumes: nothing is left to send
        await wait_for_status(pool, campaign_id, "completed")
        await asyncio.sleep(0.5)
    assert len(await emulator.sent_messages()) == 5
    assert await outcomes(pool, campaign_id) == {"sent": 5}


async def test_duplicate_requests_never_double_send(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 30)
    campaign_id = await seed_campaign(pool)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url, send_batch_size=7):
        await request_send(pool, campaign_id)
        for _ in range(3):  # the internal continue route, as a retrying caller would
            await campaigns.continue_sending(pool, campaign_id, correlation_id="dup")
        await wait_for_status(pool, campaign_id, "completed")
    recipients = [m.destinations[0] for m in await emulator.sent_messages()]
    assert len(recipients) == len(set(recipients)) == 30


async def test_pause_takes_effect_before_the_next_send_and_resume_continues(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 20)
    campaign_id = await seed_campaign(pool)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url, send_rate_per_second=10):
        await request_send(pool, campaign_id)
        async with asyncio.timeout(10):
            while (await outcomes(pool, campaign_id)).get("sent", 0) < 5:
                await asyncio.sleep(0.02)
        await pool.execute("UPDATE email_campaigns SET status = 'paused' WHERE id = $1", campaign_id)
        paused_at = len(await emulator.sent_messages())
        await asyncio.sleep(1.0)  # ten send slots go by
        after_pause = len(await emulator.sent_messages())
        assert after_pause <= paused_at + 1, "at most the send already in flight"
        assert after_pause < 20
        await request_send(pool, campaign_id)  # resume
        await wait_for_status(pool, campaign_id, "completed", timeout=30)
    recipients = [m.destinations[0] for m in await emulator.sent_messages()]
    assert len(recipients) == len(set(recipients)) == 20


async def test_an_unsubscribe_takes_effect_before_the_next_send(backends, emulator):
    database_url, amqp_url, pool = backends
    prospects = await seed_prospects(pool, 10)
    campaign_id = await seed_campaign(pool)
    last = prospects[-1]
    async with running_sender(database_url, amqp_url, emulator.endpoint_url, send_rate_per_second=5):
        await request_send(pool, campaign_id)
        async with asyncio.timeout(10):
            while (await outcomes(pool, campaign_id)).get("sent", 0) < 2:
                await asyncio.sleep(0.02)
        # The batch was read already; the claim re-checks the prospect.
        await pool.execute("UPDATE prospects SET status = 'unsubscribed' WHERE id = $1", last["id"])
        await wait_for_status(pool, campaign_id, "completed", timeout=30)
    recipients = [m.destinations[0] for m in await emulator.sent_messages()]
    assert last["email"] not in recipients
    assert len(recipients) == 9


async def test_campaigns_take_turns_chunk_by_chunk(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 12)
    first, second = await seed_campaign(pool, name="first"), await seed_campaign(pool, name="second")
    async with running_sender(
        database_url, amqp_url, emulator.endpoint_url, send_batch_size=4, chunk_min_seconds=0
    ):
        await request_send(pool, first)
        await request_send(pool, second)
        await wait_for_status(pool, first, "completed")
        await wait_for_status(pool, second, "completed")
    order = await pool.fetch("SELECT campaign_id FROM email_sends ORDER BY attempted_at")
    sequence = [row["campaign_id"] for row in order]
    # Neither campaign waited for the other to finish: their chunks interleave.
    switches = sum(1 for a, b in itertools.pairwise(sequence) if a != b)
    assert switches >= 3, sequence
    assert Counter(sequence) == {first: 12, second: 12}
    assert await campaign_status(pool, first) == ("completed", None)


async def test_a_fast_chunk_takes_further_batches_until_its_minimum_time(backends, emulator):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 12)
    campaign_id = await seed_campaign(pool)
    async with running_sender(
        database_url, amqp_url, emulator.endpoint_url, send_batch_size=4, chunk_min_seconds=60
    ):
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "completed")
    chunks = await pool.fetch(
        "SELECT data FROM events WHERE type = 'campaign.chunk_completed' ORDER BY position"
    )
    # Three batches of four in one chunk: one hand-off, then the completing chunk finds none left.
    assert [c["data"]["attempted"] for c in chunks] == [12]
    assert len(await emulator.sent_messages()) == 12


async def test_the_preview_is_byte_for_byte_the_message_the_sender_sends(backends, emulator):
    """One compose() for both: only the per-send token and the MIME boundary differ."""
    database_url, amqp_url, pool = backends
    prospect = (await seed_prospects(pool, 1))[0]
    await pool.execute(
        "UPDATE prospects SET first_name = 'Zoë <Ann> & Co', company = 'Ünïcode GmbH' WHERE id = $1",
        prospect["id"],
    )
    campaign_id = await seed_campaign(pool, subject="Hello {{ first_name }} at {{company}}")
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        await wait_for_status(pool, campaign_id, "completed")
    [sent] = await emulator.sent_messages()
    token = await pool.fetchval(
        "SELECT unsubscribe_token FROM email_sends WHERE campaign_id = $1", campaign_id
    )
    # The gateway's rules of the harness: the sender's address, base URL and postal address.
    preview = await campaigns.preview(pool, campaign_id, prospect["id"], RULES)

    def normalized(raw: str, own_token: str) -> list[tuple[list[tuple[str, str]], bytes | None]]:
        """Every part's headers exactly as on the wire and its decoded body, with the token
        and the boundary replaced by stand-ins."""
        unify = lambda text: re.sub(r"outreach\.[0-9a-f]{32}", "BOUNDARY", text.replace(own_token, "TOKEN"))  # noqa: E731
        parts = email.message_from_string(raw, policy=email.policy.compat32).walk()
        return [
            ([(name, unify(value)) for name, value in part.items()],
             None if part.is_multipart() else unify(part.get_payload(decode=True).decode()).encode())
            for part in parts
        ]  # fmt: skip

    assert normalized(sent.raw, token) == normalized(preview.mime, campaigns.PREVIEW_TOKEN)
    assert len(normalized(sent.raw, token)) == 3  # multipart/alternative: text, then HTML
    assert "Hello Zo" in preview.subject and "=?utf-8?" in preview.mime  # encoded, as sent


@pytest.mark.parametrize("bad", ["Ann\u2028Bcc: x@example.com", "Ann\x85Lee", "Ann\tLee", "Ann\rLee"])
async def test_a_personal_value_with_a_break_stays_inside_the_subject(backends, emulator, bad):
    database_url, amqp_url, pool = backends
    [prospect] = await seed_prospects(pool, 1)
    await pool.execute("UPDATE prospects SET first_name = $1 WHERE id = $2", bad, prospect["id"])
    campaign_id = await seed_campaign(pool)
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
    [message] = [m for m in await emulator.sent_messages() if m.destinations == (prospect["email"],)]
    assert message.mime["Subject"] == "Hello " + re.sub(r"[\t\r\x85\u2028]", " ", bad)
    assert message.mime["Bcc"] is None


async def test_a_message_that_cannot_be_built_fails_its_send_and_the_chunk_goes_on(backends, emulator):
    """A from name with a break, placed directly (the API refuses it at save): the MIME
    builder refuses the From header; each send fails with the reason, none is sent, and
    the chunk runs to the end instead of failing."""
    database_url, amqp_url, pool = backends
    prospects = await seed_prospects(pool, 4)
    campaign_id = await seed_campaign(pool)
    await pool.execute(
        "UPDATE email_campaigns SET from_name = $1 WHERE id = $2", "Team\x0bBcc: x", campaign_id
    )
    async with running_sender(database_url, amqp_url, emulator.endpoint_url):
        await request_send(pool, campaign_id)
        assert (await wait_for_status(pool, campaign_id, "completed"))[0] == "completed"
    rows = await pool.fetch(
        "SELECT prospect_id, outcome, error_code, error_message FROM email_sends WHERE campaign_id = $1",
        campaign_id,
    )
    assert sorted(r["prospect_id"] for r in rows) == sorted(p["id"] for p in prospects)
    assert {(r["outcome"], r["error_code"]) for r in rows} == {("failed", "RenderError")}
    assert all("From header" in r["error_message"] for r in rows)
    assert not {m.destinations[0] for m in await emulator.sent_messages()} & {p["email"] for p in prospects}
