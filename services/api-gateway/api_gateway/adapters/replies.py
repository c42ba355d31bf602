"""The replies inbox's reads: received mail with what processing found, and the messages
we sent the prospect (the writes are shared.lifecycle.inbound's)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

SUMMARY = """
m.id, m.prospect_id, m.campaign_id, c.name AS campaign_name, m.step, m.classification, m.match_method,
m.flagged, m.from_address, m.from_name, m.subject, m.received_at, m.handled_at IS NOT NULL AS handled,
m.processed_at IS NOT NULL AS processed, m.problem, f.outcome AS forward_outcome
"""
FROM = """
FROM inbound_mail m
LEFT JOIN email_campaigns c ON c.id = m.campaign_id
LEFT JOIN reply_forwards f ON f.inbound_id = m.id
"""
# $1 campaign, $2 classification ('unmatched': no prospect), $3 handled; NULL: any.
FILTER = """
WHERE ($1::uuid IS NULL OR m.campaign_id = $1)
  AND ($2::text IS NULL OR ($2 = 'unmatched' AND m.prospect_id IS NULL AND m.processed_at IS NOT NULL)
       OR m.classification = $2)
  AND ($3::bool IS NULL OR (m.handled_at IS NOT NULL) = $3)
"""


async def page(
    conn: asyncpg.Connection, *, campaign_id: uuid.UUID | None, classification: str | None, handled: bool | None,
    limit: int, offset: int,
) -> tuple[list[asyncpg.Record], int]:  # fmt: skip
    args: tuple[Any, ...] = (campaign_id, classification, handled)
    rows = await conn.fetch(
        f"SELECT {SUMMARY} {FROM} {FILTER} ORDER BY m.received_at DESC, m.id DESC LIMIT $4 OFFSET $5",
        *args, limit, offset,
    )  # fmt: skip
    total = await conn.fetchval(f"SELECT count(*) FROM inbound_mail m {FILTER}", *args)
    return rows, int(total)


UNHANDLED = """
SELECT count(*) FROM inbound_mail WHERE handled_at IS NULL AND classification IN ('reply', 'unsubscribe_request')
"""


async def unhandled(conn: asyncpg.Connection) -> int:
    """What the navigation's badge counts: replies and removal requests not yet handled."""
    return int(await conn.fetchval(UNHANDLED))


async def one(conn: asyncpg.Connection, inbound_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {SUMMARY}, m.headers, m.text_body, m.html_body, m.attachments, m.size_bytes, f.forward_to"
        f" {FROM} WHERE m.id = $1",
        inbound_id,
    )


async def sent_to(conn: asyncpg.Connection, prospect_id: uuid.UUID) -> list[asyncpg.Record]:
    """The messages we sent the prospect, newest first (the reply is read beside them)."""
    return await conn.fetch(
        """
        SELECT s.id AS send_id, s.campaign_id, c.name AS campaign_name, s.step, s.outcome, s.attempted_at,
               COALESCE(st.status, s.outcome) AS status
        FROM email_sends s JOIN email_campaigns c ON c.id = s.campaign_id
        LEFT JOIN send_status st ON st.send_id = s.id
        WHERE s.prospect_id = $1
        ORDER BY s.claimed_at DESC LIMIT 50
        """,
        prospect_id,
    )
