"""Received mail: the only statements that write `inbound_mail` (event-ingest stores and
processes each mail; the gateway marks it handled) and `reply_forwards` (event-ingest
asks for a forward; the sender claims it before SES is called and records the outcome,
as it does a send). Erasure deletes a person's mail (shared.lifecycle.prospect)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.event_store import append, change_and_append
from shared.events import Envelope, InboundMailReceived, InboundMailReceivedData
from shared.ids import uuid7

# A redelivered notification (SNS retries, a duplicate) is the same mail: stored once.
STORE = """
INSERT INTO inbound_mail (id, ses_message_id, sns_message_id, received_at, notification, s3_bucket, s3_key, raw,
                          size_bytes)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::bytea, length($8::bytea))
ON CONFLICT (ses_message_id) DO NOTHING
RETURNING id
"""


@dataclass(frozen=True)
class Notified:
    ses_message_id: str
    sns_message_id: str
    received_at: datetime
    notification: dict[str, Any]  # the SES notification, its inline content left out
    s3_location: tuple[str, str] | None
    raw: bytes | None


async def store(pool: asyncpg.Pool, notified: Notified, *, correlation_id: str) -> uuid.UUID | None:
    """Store the notification and ask for its processing, in one statement; None: a repeat."""
    inbound_id = uuid7()
    event = InboundMailReceived.new(
        InboundMailReceivedData(inbound_id=inbound_id), correlation_id=correlation_id
    )
    bucket, key = notified.s3_location or (None, None)
    args = (
        inbound_id, notified.ses_message_id, notified.sns_message_id, notified.received_at,
        notified.notification, bucket, key, notified.raw,
    )  # fmt: skip
    row = await change_and_append(pool, STORE, args, event)
    return None if row is None else inbound_id


LOAD = "SELECT * FROM inbound_mail WHERE id = $1 FOR UPDATE"


async def load(conn: asyncpg.Connection, inbound_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(LOAD, inbound_id)


# Matching, best first. The token of a send's Reply-To address:
BY_REPLY_ADDRESS = """
SELECT s.id AS send_id, s.prospect_id, s.campaign_id, s.step
FROM email_sends s WHERE s.reply_token = ANY($1::text[]) AND s.prospect_id IS NOT NULL
ORDER BY s.claimed_at DESC LIMIT 1
"""
# The Message-IDs SES gave our sends, quoted in In-Reply-To / References ($1: most recent first):
BY_THREAD = """
SELECT s.id AS send_id, s.prospect_id, s.campaign_id, s.step
FROM unnest($1::text[]) WITH ORDINALITY AS q (message_id, n)
JOIN email_sends s ON s.ses_message_id = q.message_id
WHERE s.prospect_id IS NOT NULL
ORDER BY q.n LIMIT 1
"""
# The sender's address among prospects we mailed in the last 30 days (their latest send):
BY_SENDER = """
SELECT s.id AS send_id, s.prospect_id, s.campaign_id, s.step
FROM prospects p JOIN email_sends s ON s.prospect_id = p.id
WHERE lower(p.email) = $1 AND s.claimed_at > now() - interval '30 days' AND s.outcome IN ('sent', 'unknown')
ORDER BY s.claimed_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class Match:
    method: str  # token, thread, sender
    send_id: uuid.UUID
    prospect_id: uuid.UUID
    campaign_id: uuid.UUID | None
    step: int


async def match(
    conn: asyncpg.Connection, *, tokens: list[str], thread_ids: list[str], sender: str | None
) -> Match | None:
    for method, sql, arg in (("token", BY_REPLY_ADDRESS, tokens), ("thread", BY_THREAD, thread_ids),
                             ("sender", BY_SENDER, sender)):  # fmt: skip
        if not arg:
            continue
        row = await conn.fetchrow(sql, arg)
        if row is not None:
            return Match(method, row["send_id"], row["prospect_id"], row["campaign_id"], row["step"])
    return None


SAVE = """
UPDATE inbound_mail SET
    processed_at = now(), problem = NULL, raw = COALESCE(raw, $2::bytea),
    size_bytes = COALESCE(size_bytes, length($2::bytea)),
    flagged = $3, classification = $4, match_method = $5, send_id = $6, prospect_id = $7, campaign_id = $8,
    step = $9, from_address = $10, from_name = $11, subject = $12, headers = $13::jsonb, text_body = $14,
    html_body = $15, attachments = $16::jsonb
WHERE id = $1
"""


@dataclass(frozen=True)
class Processed:
    raw: bytes
    flagged: str | None
    classification: str
    match: Match | None
    from_address: str | None
    from_name: str | None
    subject: str
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    attachments: list[dict[str, Any]]


async def save(conn: asyncpg.Connection, inbound_id: uuid.UUID, p: Processed, *events: Envelope) -> None:
    m = p.match
    await conn.execute(
        SAVE, inbound_id, p.raw, p.flagged, p.classification, m.method if m else None, m.send_id if m else None,
        m.prospect_id if m else None, m.campaign_id if m else None, m.step if m else None, p.from_address,
        p.from_name, p.subject, [[k, _no_nul(v)] for k, v in p.headers], _no_nul(p.text), _no_nul(p.html),
        p.attachments,
    )  # fmt: skip
    for event in events:
        await append(conn, event)


def _no_nul(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL


async def note_problem(pool: asyncpg.Pool, inbound_id: uuid.UUID, problem: str) -> None:
    """Why the mail could not be read (yet): shown in the inbox; the processing retries."""
    await pool.execute("UPDATE inbound_mail SET problem = $2 WHERE id = $1", inbound_id, problem[:500])


FORWARD = """
INSERT INTO reply_forwards (inbound_id, forward_to) VALUES ($1, $2)
ON CONFLICT (inbound_id) DO NOTHING RETURNING inbound_id
"""


async def ask_forward(
    conn: asyncpg.Connection, inbound_id: uuid.UUID, forward_to: str, event: Envelope
) -> None:
    if await conn.fetchval(FORWARD, inbound_id, forward_to) is not None:
        await append(conn, event)


OWNER = "SELECT reply_to, from_email FROM email_campaigns WHERE id = $1"


async def campaign_owner(conn: asyncpg.Connection, campaign_id: uuid.UUID) -> str | None:
    """Who answers for the campaign: its reply-to, else its from address."""
    row = await conn.fetchrow(OWNER, campaign_id)
    return None if row is None else (row["reply_to"] or row["from_email"])


# The sender's side of a forward, like a send: claimed (committed) before SES is called,
# an outcome once SES answered; a claim whose process died stays `unknown`, never resent.
CLAIM_FORWARD = """
UPDATE reply_forwards SET outcome = 'claimed', claimed_at = now()
WHERE inbound_id = $1 AND outcome = 'pending'
RETURNING forward_to
"""
RECORD_FORWARD = """
UPDATE reply_forwards SET outcome = $2, ses_message_id = $3, error = $4, attempted_at = now()
WHERE inbound_id = $1 AND outcome = 'claimed'
"""
# SES proved it did not take it (throttled): back in line for the next attempt.
RELEASE_FORWARD = "UPDATE reply_forwards SET outcome = 'pending', claimed_at = NULL WHERE inbound_id = $1"
RECONCILE_FORWARDS = """
UPDATE reply_forwards SET outcome = 'unknown', error = 'the forwarding process stopped before SES answered'
WHERE outcome = 'claimed' AND claimed_at < now() - make_interval(secs => $1)
"""
ORIGINAL = """
SELECT m.raw, m.from_address, m.from_name, m.subject, m.classification, m.step, c.name AS campaign_name
FROM inbound_mail m LEFT JOIN email_campaigns c ON c.id = m.campaign_id
WHERE m.id = $1
"""


async def claim_forward(pool: asyncpg.Pool, inbound_id: uuid.UUID) -> str | None:
    """The address to forward to, once claimed; None when it is claimed or done already."""
    forward_to: str | None = await pool.fetchval(CLAIM_FORWARD, inbound_id)
    return forward_to


async def record_forward(
    pool: asyncpg.Pool, inbound_id: uuid.UUID, outcome: str, *, message_id: str | None = None,
    error: str | None = None,
) -> None:  # fmt: skip
    await pool.execute(RECORD_FORWARD, inbound_id, outcome, message_id, error)


async def release_forward(pool: asyncpg.Pool, inbound_id: uuid.UUID) -> None:
    await pool.execute(RELEASE_FORWARD, inbound_id)


async def reconcile_forwards(pool: asyncpg.Pool, older_than_seconds: float) -> int:
    """Claims older than any SES call can take were interrupted: unknown (maybe sent)."""
    status = await pool.execute(RECONCILE_FORWARDS, older_than_seconds)
    return int(status.split()[-1])


async def original(pool: asyncpg.Pool, inbound_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(ORIGINAL, inbound_id)


HANDLED = """
UPDATE inbound_mail
SET handled_at = CASE WHEN $2 THEN COALESCE(handled_at, now()) END, handled_by = CASE WHEN $2 THEN $3 END
WHERE id = $1
RETURNING id
"""


async def mark_handled(
    conn: asyncpg.Connection | asyncpg.Pool, inbound_id: uuid.UUID, handled: bool, actor: str
) -> bool:
    """The admin dealt with the mail (or takes that back); False for an unknown id."""
    return await conn.fetchval(HANDLED, inbound_id, handled, actor) is not None


# Mail read from S3 and kept here: its S3 copy is deleted (after the processing committed),
# so an erasure deletes the only copy. The bucket's lifecycle rule is the backstop.
READ_FROM_S3 = """
SELECT id, s3_bucket, s3_key FROM inbound_mail
WHERE s3_key IS NOT NULL AND processed_at IS NOT NULL AND raw IS NOT NULL
LIMIT $1
"""
S3_COPY_GONE = "UPDATE inbound_mail SET s3_key = NULL WHERE id = $1"


async def read_from_s3(pool: asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    return await pool.fetch(READ_FROM_S3, limit)


async def s3_copy_gone(pool: asyncpg.Pool, inbound_id: uuid.UUID) -> None:
    await pool.execute(S3_COPY_GONE, inbound_id)
