"""The projector's SQL: set-once facts on sends, counters on campaigns, the opt-out audit,
the search indexer's queue.

The only statements that write send_status, campaign_stats, campaign_step_stats, unsubscribes and
search_refresh. A prospect's
status (raised by bounces and complaints) is shared.lifecycle.prospect's.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from projector.policy import FACT_COUNTERS, SendChanges, status_of
from shared.consumer import forget_applied

FACT_COLUMNS = (*FACT_COUNTERS, "transient_bounce_at")
_SELECT_FACTS = ", ".join(FACT_COLUMNS)

ENSURE_SEND = """
INSERT INTO send_status (send_id, campaign_id, prospect_id, ses_message_id, step)
VALUES ($1, $2, $3, $4, (SELECT step FROM email_sends WHERE id = $1))
ON CONFLICT (send_id) DO NOTHING
"""

# Stats rows start at zero; counters only ever add the facts that were new.
BUMP_STATS = """
INSERT INTO campaign_stats AS s (campaign_id) VALUES ($1)
ON CONFLICT (campaign_id) DO NOTHING
"""

# The audit row of an opt-out, once per event; references only what exists.
AUDIT_UNSUBSCRIBE = """
INSERT INTO unsubscribes (event_id, prospect_id, campaign_id, send_id, source, reason)
SELECT $1, p.id,
       (SELECT id FROM email_campaigns WHERE id = $3),
       (SELECT id FROM email_sends WHERE id = $4),
       $5, $6
FROM prospects p WHERE p.id = $2
ON CONFLICT (event_id) DO NOTHING
"""


async def apply_send_changes(conn: asyncpg.Connection, changes: SendChanges) -> list[str]:
    """Set the new facts of one send; returns the campaign counters they add to."""
    await conn.execute(
        ENSURE_SEND, changes.send_id, changes.campaign_id, changes.prospect_id, changes.ses_message_id
    )
    row = await conn.fetchrow(
        f"SELECT {_SELECT_FACTS}, campaign_id, bounce_type, step FROM send_status WHERE send_id = $1 FOR UPDATE",
        changes.send_id,
    )
    merged: dict[str, Any] = {column: row[column] for column in FACT_COLUMNS}
    newly_set = [column for column in changes.facts if merged.get(column) is None]
    for column, at in changes.facts.items():
        merged[column] = at if merged[column] is None else min(merged[column], at)
    status, rank = status_of(merged)
    bounce_type = row["bounce_type"]
    if changes.bounce_type == "Permanent" or bounce_type is None:
        bounce_type = changes.bounce_type or bounce_type
    assignments = ", ".join(f"{column} = ${i + 2}" for i, column in enumerate(FACT_COLUMNS))
    n = len(FACT_COLUMNS) + 2
    await conn.execute(
        f"""
        UPDATE send_status SET {assignments},
            status = ${n}, status_rank = ${n + 1}, bounce_type = ${n + 2},
            error = COALESCE(error, ${n + 3}),
            campaign_id = COALESCE(campaign_id, ${n + 4}), prospect_id = COALESCE(prospect_id, ${n + 5}),
            ses_message_id = COALESCE(ses_message_id, ${n + 6}),
            first_event_at = LEAST(first_event_at, ${n + 7}), updated_at = now()
        WHERE send_id = $1
        """,
        changes.send_id,
        *(merged[column] for column in FACT_COLUMNS),
        status, rank, bounce_type, changes.error, changes.campaign_id, changes.prospect_id,
        changes.ses_message_id, min(changes.facts.values()) if changes.facts else None,
    )  # fmt: skip
    counters = [FACT_COUNTERS[column] for column in newly_set if column in FACT_COUNTERS]
    campaign_id = row["campaign_id"] or changes.campaign_id
    if counters and campaign_id is not None:
        await conn.execute(BUMP_STATS, campaign_id)
        increments = ", ".join(f"{name} = {name} + 1" for name in counters)
        await conn.execute(
            f"UPDATE campaign_stats SET {increments}, updated_at = now() WHERE campaign_id = $1", campaign_id
        )
        # The same counters for the send's step (step 1 for sends from before sequences).
        ones = ", ".join("1" for _ in counters)
        adds = ", ".join(f"{name} = s.{name} + 1" for name in counters)
        await conn.execute(
            f"INSERT INTO campaign_step_stats AS s (campaign_id, step, {', '.join(counters)}) VALUES ($1, $2, {ones})"
            f" ON CONFLICT (campaign_id, step) DO UPDATE SET {adds}, updated_at = now()",
            campaign_id, row["step"] or 1,
        )  # fmt: skip
    return counters


async def audit_unsubscribe(
    conn: asyncpg.Connection, event_id: uuid.UUID, changes: SendChanges, source: str, reason: str | None
) -> None:
    await conn.execute(
        AUDIT_UNSUBSCRIBE, event_id, changes.prospect_id, changes.campaign_id, changes.send_id, source, reason
    )


async def campaign_counts(conn: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT sent, bounced, complained FROM campaign_stats WHERE campaign_id = $1", campaign_id
    )


async def truncate_read_tables(conn: asyncpg.Connection, consumer: str) -> None:
    await conn.execute("TRUNCATE send_status, campaign_stats, campaign_step_stats")
    await forget_applied(conn, consumer)


async def queue_search_refresh(conn: asyncpg.Connection, event_id: uuid.UUID, since: datetime) -> None:
    await conn.execute(
        "INSERT INTO search_refresh (event_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING", event_id, since
    )


async def search_refreshes(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The imports still to index (event_id, since)."""
    return await pool.fetch("SELECT event_id, since FROM search_refresh")


async def forget_search_refreshes(pool: asyncpg.Pool, event_ids: list[uuid.UUID]) -> None:
    await pool.execute("DELETE FROM search_refresh WHERE event_id = ANY($1::uuid[])", event_ids)
