"""event-ingest's SQL: the raw store, send matching, account-level pauses."""

from __future__ import annotations

from typing import Any

import asyncpg

from event_ingest.domain import SendRef
from shared.event_store import change_and_append
from shared.events import Envelope

# Both unique keys (envelope id, dedupe key) make a repeat a no-op.
STORE_RAW = """
INSERT INTO ses_events_raw (eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id,
                            event_id, matched, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
RETURNING eventbridge_id
"""


async def store_raw(
    conn: asyncpg.Connection | asyncpg.Pool, *, eventbridge_id: str, dedupe_key: str | None, detail_type: str,
    event_type: str | None, message_id: str | None, event: Envelope | None, matched: bool,
    payload: dict[str, Any],
) -> bool:  # fmt: skip
    """Store the delivery and append its event in one statement. False when this
    delivery (or the same SES event) was stored before: then nothing is appended."""
    args = (
        eventbridge_id, dedupe_key, detail_type, event_type, message_id,
        event.event_id if event else None, matched, payload,
    )  # fmt: skip
    if event is None:
        return await conn.fetchval(STORE_RAW, *args) is not None
    return await change_and_append(conn, STORE_RAW, args, event) is not None


async def match_send(
    conn: asyncpg.Connection | asyncpg.Pool, tagged: SendRef, message_id: str | None
) -> SendRef:
    """The send an event belongs to: by its tags, else by the SES message id."""
    if tagged.complete:
        return tagged
    if message_id:
        row = await conn.fetchrow(
            "SELECT id, campaign_id, prospect_id FROM email_sends WHERE ses_message_id = $1", message_id
        )
        if row is not None:
            return SendRef(row["id"], row["campaign_id"], row["prospect_id"])
    return tagged


async def reject(pool: asyncpg.Pool, *, reason: str, content_type: str | None, body: bytes) -> None:
    await pool.execute(
        "INSERT INTO rejected_payloads (source, reason, content_type, body) VALUES ('ses-events', $1, $2, $3)",
        reason[:2000],
        content_type,
        body,
    )
