"""The append-only event store and its transactional outbox side.

`append` writes events in the caller's transaction; the outbox relay
(shared.outbox) publishes them once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.events import Envelope, parse_event

OUTBOX_CHANNEL = "outreach_outbox"  # notified by append_events() (infra/migrations/0006)

# append_events() takes the append lock shared, inserts and notifies: one round
# trip, in the caller's transaction or as part of a single statement.
_COLUMN_TYPES = ("uuid", "text", "int", "timestamptz", "text", "uuid", "jsonb")


def _arrays(first: int) -> str:
    """The seven event_columns() array parameters, numbered from $first."""
    return ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(_COLUMN_TYPES))


def _append_call(first: int) -> str:
    return f"append_events({_arrays(first)})"


def append_those_changed(first: int, changed: str, key: str) -> str:
    """A common table expression, `appended`, for a statement that changes many rows: it
    appends the events (the seven event_columns() arrays from $first, in their order) whose
    event_id the CTE `changed` returned in its column `key`, and none when it returned none."""
    columns = ("event_id", "type", "version", "occurred_at", "correlation_id", "causation_id", "data")
    return f"""appended AS (
    SELECT append_events({", ".join(f"array_agg(e.{c} ORDER BY e.ord)" for c in columns)}) AS n
    FROM unnest({_arrays(first)}) WITH ORDINALITY AS e({", ".join(columns)}, ord)
    JOIN {changed} ON {changed}.{key} = e.event_id
    HAVING count(*) > 0
)"""


def append_built(event: type[Envelope], *, rows: str, data: str, correlation: str) -> str:
    """A common table expression, `appended`, for a statement that changes many rows and
    builds one event per row in SQL (a million Python events would not fit one
    statement): `data` is the jsonb of each row of `rows` (an event's data contract, which
    a test parses back), `correlation` its correlation id's SQL."""
    fields = event.model_fields
    event_type, version = fields["type"].default, fields["version"].default
    return f"""appended AS (
    SELECT append_events(
        array_agg(gen_random_uuid()), array_agg('{event_type}'::text), array_agg({int(version)}),
        array_agg(now()), array_agg({correlation}::text), array_agg(NULL::uuid), array_agg({data})
    ) AS n
    FROM {rows} HAVING count(*) > 0
)"""


def event_columns(events: Sequence[Envelope]) -> tuple[list[Any], ...]:
    return (
        [e.event_id for e in events],
        [e.type for e in events],
        [e.version for e in events],
        [e.occurred_at for e in events],
        [e.correlation_id for e in events],
        [e.causation_id for e in events],
        [e.model_dump(mode="json")["data"] for e in events],
    )


async def append(conn: asyncpg.Connection, *events: Envelope) -> None:
    """Append events in the caller's transaction (they publish only if it commits)."""
    if not events:
        return
    if not conn.is_in_transaction():
        raise RuntimeError("append events inside the transaction of the state change they record")
    await conn.execute(f"SELECT {_append_call(1)}", *event_columns(events))


async def change_and_append(
    conn: asyncpg.Connection | asyncpg.Pool,
    change: str,
    args: Sequence[Any],
    *events: Envelope,
    before: str = "",
    after: str = "",
) -> asyncpg.Record | None:
    """One statement: `change` (an INSERT/UPDATE/DELETE ... RETURNING of at most
    one row, parameters $1..$n) and, only when it returns its row, the events.
    Returns that row, or None when nothing changed (and nothing was appended).
    Atomic on its own: no transaction needed, so one round trip.

    `before`: common table expressions (`name AS (...), `) the change reads, for a
    change that is itself several data-modifying steps (PostgreSQL allows those
    only at the statement's top level). `after`: further ones (`, name AS (...)`) that
    read `change`'s row, written only with it."""
    statement = (
        f"WITH {before}change AS ({change}){after}"
        f" SELECT change.*, {_append_call(len(args) + 1)} AS appended FROM change"
    )
    return await conn.fetchrow(statement, *args, *event_columns(events))


async def mark_published(conn: asyncpg.Connection, positions: Sequence[int]) -> None:
    """The outbox relay's one write: these events reached the broker (confirmed)."""
    await conn.execute("UPDATE events SET published_at = now() WHERE position = ANY($1::bigint[])", positions)


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
