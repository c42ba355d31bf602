"""Campaigns in Postgres, with their stats from the projector's read table."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared import db
from shared.ids import uuid7

COLUMNS = (
    "id, name, subject, body_html, body_text, from_email, from_name, reply_to, status, "
    "status_reason, created_at, updated_at, started_at, completed_at"
)
STAT_NAMES = (
    "sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed",
    "failed", "rejected", "delivery_delayed", "unknown",
)  # fmt: skip
_STATS = ", ".join(f"COALESCE(s.{name}, 0) AS stat_{name}" for name in STAT_NAMES)


async def insert(conn: asyncpg.Connection, fields: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""
        INSERT INTO email_campaigns (id, name, subject, body_html, body_text, from_email, from_name, reply_to)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING {COLUMNS}
        """,
        uuid7(),
        fields["name"],
        fields["subject"],
        fields["body_html"],
        fields.get("body_text") or "",
        fields["from_email"],
        fields.get("from_name"),
        fields.get("reply_to"),
    )


async def get(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM email_campaigns WHERE id = $1{lock}", campaign_id)


async def get_with_stats(conn: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT c.*, {_STATS} FROM email_campaigns c
        LEFT JOIN campaign_stats s ON s.campaign_id = c.id
        WHERE c.id = $1
        """,
        campaign_id,
    )


async def page(conn: asyncpg.Connection, *, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        f"""
        SELECT c.*, {_STATS} FROM email_campaigns c
        LEFT JOIN campaign_stats s ON s.campaign_id = c.id
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT $1 OFFSET $2
        """,
        limit,
        offset,
    )
    return rows, await conn.fetchval("SELECT count(*) FROM email_campaigns")


# Eligibility has one definition, the sender's eligible_prospects() (it inlines
# into this count). A count walks every active prospect (about 0.3 s at 1M);
# it is asked for on one campaign's page, not in lists.
COUNT_ELIGIBLE = "SELECT count(*) FROM eligible_prospects($1, 2147483647, 0)"


async def count_eligible(conn: asyncpg.Connection, campaign_id: uuid.UUID) -> int:
    return int(await conn.fetchval(COUNT_ELIGIBLE, campaign_id))


async def update(conn: asyncpg.Connection, campaign_id: uuid.UUID, changes: dict[str, Any]) -> asyncpg.Record:
    return await db.update_by_id(conn, "email_campaigns", campaign_id, changes, returning=COLUMNS)


def stats_of(row: asyncpg.Record) -> dict[str, int]:
    return {name: int(row[f"stat_{name}"]) for name in STAT_NAMES}
