"""Prospects in Postgres: named SQL, each with why it is shaped so."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from typing import Any

import asyncpg

from shared import db
from shared.addresses import email_hash
from shared.ids import uuid7

COLUMNS = (
    "id, email, first_name, last_name, company, title, attributes, status, status_reason, "
    "created_at, updated_at"
)

# A re-created address that was erased after opting out comes back suppressed.
INSERT_ONE = f"""
INSERT INTO prospects (id, email, email_hash, first_name, last_name, company, title, attributes,
                       status, status_reason)
SELECT $1, $2, $3, $4, $5, $6, $7, $8,
       COALESCE((SELECT CASE reason WHEN 'manual' THEN 'unsubscribed' ELSE reason END
                 FROM suppressions WHERE email_hash = $3), 'active'),
       (SELECT 'suppressed before: ' || reason FROM suppressions WHERE email_hash = $3)
ON CONFLICT (email_hash) DO NOTHING
RETURNING {COLUMNS}
"""


async def insert(conn: asyncpg.Connection, fields: dict[str, Any]) -> asyncpg.Record | None:
    """The new row, or None when the address exists already."""
    return await conn.fetchrow(
        INSERT_ONE,
        uuid7(),
        fields["email"],
        email_hash(fields["email"]),
        fields.get("first_name"),
        fields.get("last_name"),
        fields.get("company"),
        fields.get("title"),
        fields.get("attributes") or {},
    )


async def id_by_email(conn: asyncpg.Connection, email: str) -> uuid.UUID | None:
    return await conn.fetchval("SELECT id FROM prospects WHERE email_hash = $1", email_hash(email))


async def get(
    conn: asyncpg.Connection, prospect_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM prospects WHERE id = $1{lock}", prospect_id)


def _like_pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# search_text is lower(email names company) with a trigram index: a substring
# LIKE uses it from three characters on.
def _filters(status: str | None, q: str | None) -> tuple[str, list[Any]]:
    """WHERE clause with only the filters given, so each shape gets its own plan."""
    conditions, args = [], []
    if status:
        args.append(status)
        conditions.append(f"status = ${len(args)}")
    if q:
        # search_text is lower(email names company) under a trigram index: a
        # substring LIKE uses it from three characters on.
        args.append(_like_pattern(q))
        conditions.append(f"search_text LIKE ${len(args)}")
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", args


async def search(
    conn: asyncpg.Connection, *, status: str | None, q: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    where, args = _filters(status, q)
    n = len(args)
    # Newest first: ids are UUIDv7, so id order is creation order and the primary
    # key (or prospects_status_idx) serves ORDER BY ... LIMIT.
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM prospects{where} ORDER BY id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM prospects{where}", *args)
    return rows, total


async def update(conn: asyncpg.Connection, prospect_id: uuid.UUID, changes: dict[str, Any]) -> asyncpg.Record:
    return await db.update_by_id(conn, "prospects", prospect_id, changes, returning=COLUMNS)


async def lift_suppression(conn: asyncpg.Connection, email: str) -> None:
    await conn.execute("DELETE FROM suppressions WHERE email_hash = $1", email_hash(email))


# Erasure: the row (and with it every personal field) goes; an opted-out or
# bounced address leaves its hash behind so no later import can revive it.
ERASE = """
WITH gone AS (DELETE FROM prospects WHERE id = $1 RETURNING email_hash, status)
INSERT INTO suppressions (email_hash, reason)
SELECT email_hash, status FROM gone WHERE status <> 'active'
ON CONFLICT (email_hash) DO NOTHING
RETURNING reason
"""


async def erase(conn: asyncpg.Connection, prospect_id: uuid.UUID) -> None:
    await conn.execute(ERASE, prospect_id)


# ------------------------------------------------------------------ bulk import

STAGING_COLUMNS = (
    "line", "id", "email", "email_hash", "first_name", "last_name", "company", "title", "attributes",
)  # fmt: skip

CREATE_STAGING = """
CREATE TEMP TABLE import_staging (
    line integer, id uuid, email text, email_hash bytea, first_name text, last_name text,
    company text, title text, attributes text
) ON COMMIT DROP
"""

# One statement: the last occurrence of an address in the file wins; new
# addresses are inserted (suppressed ones come back suppressed); existing ones
# get the file's non-empty values, and their status is never touched, so an
# import cannot re-activate anyone. Rows whose values would not change are not
# written at all.
UPSERT = """
WITH staged AS (
    SELECT DISTINCT ON (email_hash) *
    FROM import_staging
    ORDER BY email_hash, line DESC
), written AS (
    INSERT INTO prospects AS p (id, email, email_hash, first_name, last_name, company, title,
                                attributes, status, status_reason)
    SELECT s.id, s.email, s.email_hash, s.first_name, s.last_name, s.company, s.title,
           COALESCE(s.attributes::jsonb, '{}'::jsonb),
           COALESCE(CASE sup.reason WHEN 'manual' THEN 'unsubscribed' ELSE sup.reason END, 'active'),
           CASE WHEN sup.reason IS NOT NULL THEN 'suppressed before: ' || sup.reason END
    FROM staged s
    LEFT JOIN suppressions sup ON sup.email_hash = s.email_hash
    ON CONFLICT (email_hash) DO UPDATE SET
        first_name = COALESCE(EXCLUDED.first_name, p.first_name),
        last_name = COALESCE(EXCLUDED.last_name, p.last_name),
        company = COALESCE(EXCLUDED.company, p.company),
        title = COALESCE(EXCLUDED.title, p.title),
        attributes = p.attributes || EXCLUDED.attributes,
        updated_at = now()
    WHERE (p.first_name, p.last_name, p.company, p.title, p.attributes) IS DISTINCT FROM
          (COALESCE(EXCLUDED.first_name, p.first_name), COALESCE(EXCLUDED.last_name, p.last_name),
           COALESCE(EXCLUDED.company, p.company), COALESCE(EXCLUDED.title, p.title),
           p.attributes || EXCLUDED.attributes)
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM import_staging) AS staged,
       (SELECT count(*) FROM staged) AS distinct_rows,
       count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM written
"""


# A million rows take minutes on a small machine; the pool's 60 s default would cut them off.
IMPORT_STATEMENT_TIMEOUT = 3600.0


async def bulk_upsert(conn: asyncpg.Connection, rows: AsyncIterable[tuple[Any, ...]]) -> asyncpg.Record:
    """COPY the rows into a staging table and upsert them in one statement (caller's transaction)."""
    await conn.execute("SET LOCAL work_mem = '256MB'")
    await conn.execute(CREATE_STAGING)
    await conn.copy_records_to_table(
        "import_staging", records=rows, columns=STAGING_COLUMNS, timeout=IMPORT_STATEMENT_TIMEOUT
    )
    return await conn.fetchrow(UPSERT, timeout=IMPORT_STATEMENT_TIMEOUT)
