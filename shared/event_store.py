"""The append-only event store and its transactional outbox side.

`append` writes events in the caller's transaction; the outbox relay
(shared.outbox) publishes them once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg

from shared.events import Envelope, parse_event

OUTBOX_CHANNEL = "outreach_outbox"
# Held shared by every appending transaction until it ends, exclusively (for an
# instant) by the relay when it reads its watermark. See shared.outbox.
APPEND_LOCK_KEY = 0x6F757472_61707064  # "outrappd"

_INSERT = """
INSERT INTO events (event_id, type, version, occurred_at, correlation_id, causation_id, data)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::text[],
                     $6::uuid[], $7::jsonb[])
"""


async def append(conn: asyncpg.Connection, *events: Envelope) -> None:
    """Append events in the caller's transaction (they publish only if it commits)."""
    if not events:
        return
    if not conn.is_in_transaction():
        raise RuntimeError("append events inside the transaction of the state change they record")
    # Taken before the positions are allocated, released at commit or rollback.
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", APPEND_LOCK_KEY)
    await conn.execute(
        _INSERT,
        [e.event_id for e in events],
        [e.type for e in events],
        [e.version for e in events],
        [e.occurred_at for e in events],
        [e.correlation_id for e in events],
        [e.causation_id for e in events],
        [e.model_dump(mode="json")["data"] for e in events],
    )
    # Delivered to listeners only when the transaction commits: wakes the relay.
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)


@dataclass(frozen=True)
class StoredEvent:
    position: int
    event: Envelope


def row_to_message(row: asyncpg.Record) -> dict[str, object]:
    """The wire form of a stored event (the envelope as JSON)."""
    return {
        "event_id": str(row["event_id"]),
        "type": row["type"],
        "version": row["version"],
        "occurred_at": row["occurred_at"].isoformat(),
        "correlation_id": row["correlation_id"],
        "causation_id": str(row["causation_id"]) if row["causation_id"] else None,
        "data": row["data"],
    }


async def read_all(
    conn: asyncpg.Connection, *, types: Sequence[str] | None = None, batch: int = 5000
) -> AsyncIterator[StoredEvent]:
    """Every stored event in store order (for projection rebuilds and audits)."""
    last = 0
    while True:
        rows = await conn.fetch(
            """
            SELECT position, event_id, type, version, occurred_at, correlation_id, causation_id, data
            FROM events
            WHERE position > $1 AND ($2::text[] IS NULL OR type = ANY($2))
            ORDER BY position
            LIMIT $3
            """,
            last,
            list(types) if types is not None else None,
            batch,
        )
        if not rows:
            return
        for row in rows:
            yield StoredEvent(row["position"], parse_event(row_to_message(row)))
        last = rows[-1]["position"]
