"""The only statements that write `segments` (saved audience rules), and what reads them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

import asyncpg

from shared.db import set_clause

COLUMNS = "id, name, rule, created_by, created_at, updated_at"
EDITABLE = frozenset({"name", "rule"})


async def insert(conn: asyncpg.Connection, segment_id: uuid.UUID, name: str, rule: dict[str, Any],
                 created_by: str) -> asyncpg.Record | None:  # fmt: skip
    """The new segment, or None when another has that name (names are unique without case)."""
    return await conn.fetchrow(
        f"""INSERT INTO segments (id, name, rule, created_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (lower(name)) DO NOTHING RETURNING {COLUMNS}""",
        segment_id, name, rule, created_by,
    )  # fmt: skip


async def update(
    conn: asyncpg.Connection, segment_id: uuid.UUID, changes: Mapping[str, Any]
) -> asyncpg.Record | None:
    assignments, values = set_clause(changes, first=2, allowed=EDITABLE)
    return await conn.fetchrow(
        f"UPDATE segments SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        segment_id,
        *values,
    )


async def delete(conn: asyncpg.Connection, segment_id: uuid.UUID) -> bool:
    return await conn.fetchval("DELETE FROM segments WHERE id = $1 RETURNING true", segment_id) is not None


# A campaign that still sends (or may again) reads its segment with every batch.
USED_BY = """
SELECT id, name FROM email_campaigns
WHERE audience ->> 'segment_id' = $1::text AND status NOT IN ('completed', 'cancelled')
ORDER BY created_at LIMIT 5
"""


async def used_by(conn: asyncpg.Connection, segment_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(USED_BY, str(segment_id))


async def get(
    conn: asyncpg.Connection, segment_id: uuid.UUID, *, lock: Literal["", "FOR KEY SHARE", "FOR UPDATE"] = ""
) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM segments WHERE id = $1 {lock}", segment_id)


async def by_name(conn: asyncpg.Connection, name: str) -> uuid.UUID | None:
    return await conn.fetchval("SELECT id FROM segments WHERE lower(name) = lower($1)", name)


async def all_segments(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {COLUMNS} FROM segments ORDER BY lower(name)")
