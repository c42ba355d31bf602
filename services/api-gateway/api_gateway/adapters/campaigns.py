"""What the gateway reads about campaigns, with their stats from the projector's read table.

Every write to a campaign is shared.lifecycle.campaign's."""

from __future__ import annotations

import uuid

import asyncpg

from shared.campaign_stats import STAT_NAMES
from shared.lifecycle.campaign import COLUMNS

_STATS = ", ".join(f"COALESCE(s.{name}, 0) AS stat_{name}" for name in STAT_NAMES)


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


def stats_of(row: asyncpg.Record) -> dict[str, int]:
    return {name: int(row[f"stat_{name}"]) for name in STAT_NAMES}


# The campaign's stopped prospects, newest stop first (an erased prospect's stop goes with them).
STOPS = """
SELECT st.prospect_id, p.email, st.reason, st.stopped_at, sp.next_step AS next_step, count(*) OVER () AS total
FROM sequence_stops st
JOIN prospects p ON p.id = st.prospect_id
LEFT JOIN sequence_progress sp ON sp.campaign_id = st.campaign_id AND sp.prospect_id = st.prospect_id
WHERE st.campaign_id = $1
ORDER BY st.stopped_at DESC, st.prospect_id
LIMIT $2 OFFSET $3
"""


async def stops(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(STOPS, campaign_id, limit, offset)
    total = (
        rows[0]["total"]
        if rows
        else await conn.fetchval("SELECT count(*) FROM sequence_stops WHERE campaign_id = $1", campaign_id)
    )
    return rows, int(total)
