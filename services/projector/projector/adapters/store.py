"""The projector's SQL: set-once facts on sends, counters on campaigns, the opt-out audit,
the search indexer's queue.

The only statements that write send_status, campaign_stats, campaign_step_stats, unsubscribes and
search_refresh. A prospect's
status (raised by bounces and complaints) is shared.lifecycle.prospect's.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from projector.policy import FACT_COUNTERS, SendChanges, status_of
from shared.consumer import forget_applied

FACT_COLUMNS = (*FACT_COUNTERS, "transient_bounce_at")
_SELECT_FACTS = ", ".join(FACT_COLUMNS)

# The sends of a batch, created where this is their first event, locked in one order
# (send_id) whichever batch asks, with what they hold: an upsert that changes nothing
# where the row is there (the no-op update is what locks and returns it).
LOCK_SENDS = f"""
INSERT INTO send_status (send_id, campaign_id, prospect_id, ses_message_id, step)
SELECT u.send_id, u.campaign_id, u.prospect_id, u.ses_message_id, (SELECT step FROM email_sends WHERE id = u.send_id)
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[]) AS u (send_id, campaign_id, prospect_id, ses_message_id)
ORDER BY u.send_id
ON CONFLICT (send_id) DO UPDATE SET send_id = EXCLUDED.send_id
RETURNING send_id, {_SELECT_FACTS}, campaign_id, bounce_type, step
"""

# Each send's facts as merged here; what the row has first (error, ids) it keeps.
WRITE_SENDS = f"""
UPDATE send_status s SET {", ".join(f"{column} = u.{column}" for column in FACT_COLUMNS)},
    status = u.status, status_rank = u.status_rank, bounce_type = u.bounce_type,
    error = COALESCE(s.error, u.error),
    campaign_id = COALESCE(s.campaign_id, u.campaign_id), prospect_id = COALESCE(s.prospect_id, u.prospect_id),
    ses_message_id = COALESCE(s.ses_message_id, u.ses_message_id),
    first_event_at = LEAST(s.first_event_at, u.first_event_at), updated_at = now()
FROM unnest($1::uuid[], {", ".join(f"${i + 2}::timestamptz[]" for i in range(len(FACT_COLUMNS)))},
            ${len(FACT_COLUMNS) + 2}::text[], ${len(FACT_COLUMNS) + 3}::smallint[], ${len(FACT_COLUMNS) + 4}::text[],
            ${len(FACT_COLUMNS) + 5}::text[], ${len(FACT_COLUMNS) + 6}::uuid[], ${len(FACT_COLUMNS) + 7}::uuid[],
            ${len(FACT_COLUMNS) + 8}::text[], ${len(FACT_COLUMNS) + 9}::timestamptz[])
     AS u (send_id, {_SELECT_FACTS}, status, status_rank, bounce_type, error, campaign_id, prospect_id,
           ses_message_id, first_event_at)
WHERE s.send_id = u.send_id
"""

COUNTERS = tuple(FACT_COUNTERS.values())
_ADDS = ", ".join(f"{name} = s.{name} + EXCLUDED.{name}" for name in COUNTERS)
_COUNTER_ARRAYS = ", ".join(f"${i + 3}::bigint[]" for i in range(len(COUNTERS)))
# What a batch adds to each campaign's counters and to each of its steps' (campaign order).
ADD_COUNTERS = f"""
WITH added AS (
    SELECT * FROM unnest($1::uuid[], $2::smallint[], {_COUNTER_ARRAYS}) AS u (campaign_id, step, {", ".join(COUNTERS)})
), campaign AS (
    INSERT INTO campaign_stats AS s (campaign_id, {", ".join(COUNTERS)})
    SELECT campaign_id, {", ".join(f"sum({name})" for name in COUNTERS)} FROM added GROUP BY campaign_id
    ORDER BY campaign_id
    ON CONFLICT (campaign_id) DO UPDATE SET {_ADDS}, updated_at = now()
)
INSERT INTO campaign_step_stats AS s (campaign_id, step, {", ".join(COUNTERS)})
SELECT * FROM added ORDER BY campaign_id, step
ON CONFLICT (campaign_id, step) DO UPDATE SET {_ADDS}, updated_at = now()
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


@dataclass
class _Send:
    """One send's row as a batch's changes leave it."""

    facts: dict[str, datetime | None]
    campaign_id: uuid.UUID | None
    bounce_type: str | None
    step: int
    # The first of each among the batch's changes (the row keeps its own where it has one).
    error: str | None = None
    prospect_id: uuid.UUID | None = None
    ses_message_id: str | None = None
    first_event_at: datetime | None = None

    def change(self, changes: SendChanges) -> list[str]:
        """Apply one change as its own transaction would; the counters it adds to."""
        counters = [
            FACT_COUNTERS[column]
            for column in changes.facts
            if self.facts.get(column) is None and column in FACT_COUNTERS
        ]
        for column, at in changes.facts.items():
            held = self.facts[column]
            self.facts[column] = at if held is None else min(held, at)
        if changes.bounce_type == "Permanent" or self.bounce_type is None:
            self.bounce_type = changes.bounce_type or self.bounce_type
        self.campaign_id = self.campaign_id or changes.campaign_id
        self.error = self.error or changes.error
        self.prospect_id = self.prospect_id or changes.prospect_id
        self.ses_message_id = self.ses_message_id or changes.ses_message_id
        if changes.facts:
            earliest = min(changes.facts.values())
            self.first_event_at = (
                earliest if self.first_event_at is None else min(self.first_event_at, earliest)
            )
        return counters


async def apply_send_changes(conn: asyncpg.Connection, batch: Sequence[SendChanges]) -> list[list[str]]:
    """Set the new facts of sends, change by change in order, as one transaction each would;
    returns the campaign counters each change adds to.

    Three statements however many changes: lock and read the sends, write them, add to the
    campaigns' counters.
    """
    if not batch:
        return []
    first: dict[uuid.UUID, SendChanges] = {}
    for changes in batch:
        assert changes.send_id is not None
        first.setdefault(changes.send_id, changes)
    ids = list(first)
    rows = await conn.fetch(
        LOCK_SENDS, ids, [first[i].campaign_id for i in ids], [first[i].prospect_id for i in ids],
        [first[i].ses_message_id for i in ids],
    )  # fmt: skip
    sends = {
        row["send_id"]: _Send(
            {c: row[c] for c in FACT_COLUMNS}, row["campaign_id"], row["bounce_type"], row["step"] or 1
        )
        for row in rows
    }
    counted: list[list[str]] = []
    added: dict[tuple[uuid.UUID, int], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    for changes in batch:
        send = sends[changes.send_id]
        campaign_id = send.campaign_id or changes.campaign_id  # the campaign before this change
        counters = send.change(changes)
        counted.append(counters)
        if counters and campaign_id is not None:
            added[(campaign_id, send.step)].update(counters)
    await conn.execute(
        WRITE_SENDS, ids,
        *([sends[i].facts[c] for i in ids] for c in FACT_COLUMNS),
        *zip(*(_status(sends[i]) for i in ids), strict=True),
        [sends[i].error for i in ids], [sends[i].campaign_id for i in ids], [sends[i].prospect_id for i in ids],
        [sends[i].ses_message_id for i in ids], [sends[i].first_event_at for i in ids],
    )  # fmt: skip
    if added:
        keys = sorted(added)
        await conn.execute(
            ADD_COUNTERS, [k[0] for k in keys], [k[1] for k in keys],
            *([added[k][name] for k in keys] for name in COUNTERS),
        )  # fmt: skip
    return counted


def _status(send: _Send) -> tuple[str | None, int | None, str | None]:
    status, rank = status_of(send.facts)
    return status, rank, send.bounce_type


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
