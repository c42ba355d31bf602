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


STEP_STATS = """
SELECT g.step, COALESCE(s.sent, 0) AS sent, COALESCE(s.delivered, 0) AS delivered,
       COALESCE(s.opened, 0) AS opened, COALESCE(s.clicked, 0) AS clicked, COALESCE(s.replied, 0) AS replied,
       COALESCE(s.bounced, 0) AS bounced, COALESCE(s.unsubscribed, 0) AS unsubscribed,
       (SELECT count(*) FROM sequence_stops st
        LEFT JOIN sequence_progress sp ON sp.campaign_id = st.campaign_id AND sp.prospect_id = st.prospect_id
        WHERE st.campaign_id = $1 AND GREATEST(COALESCE(cardinality(sp.steps_sent), 0), 1) = g.step) AS stopped
FROM generate_series(1, GREATEST($2, (SELECT COALESCE(max(step), 1) FROM campaign_step_stats WHERE campaign_id = $1)))
     AS g (step)
LEFT JOIN campaign_step_stats s ON s.campaign_id = $1 AND s.step = g.step
ORDER BY g.step
"""


async def step_stats(conn: asyncpg.Connection, campaign_id: uuid.UUID, steps: int) -> list[dict[str, int]]:
    """Per step of the sequence as it is (and any step numbered higher that was sent before
    a removal): the counters of the projector's read table, and the prospects whose sequence
    stopped after that step (before step 1: counted at step 1)."""
    return [dict(row) for row in await conn.fetch(STEP_STATS, campaign_id, steps)]


# The follow-ups planned next (of prospects not stopped, not yet claimed for that step).
DUE_NEXT = """
SELECT sp.prospect_id, p.email, sp.next_step AS step, sp.due_at
FROM sequence_progress sp JOIN prospects p ON p.id = sp.prospect_id
WHERE sp.campaign_id = $1 AND sp.due_at IS NOT NULL AND sp.plan_version = $2
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = $1 AND st.prospect_id = sp.prospect_id)
  AND NOT EXISTS (SELECT 1 FROM email_sends es WHERE es.campaign_id = $1 AND es.prospect_id = sp.prospect_id
                    AND es.step_id = sp.next_step_id AND es.retried_at IS NULL)
ORDER BY sp.due_at
LIMIT $3
"""


async def due_next(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, plan_version: int, *, limit: int
) -> list:
    return await conn.fetch(DUE_NEXT, campaign_id, plan_version, limit)
