"""What the gateway reads about prospects. Every write to a prospect is shared.lifecycle.prospect's."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.audience import CountedShape, Predicate
from shared.lifecycle.prospect import COLUMNS


async def id_by_hash(conn: asyncpg.Connection, address_hash: bytes) -> uuid.UUID | None:
    return await conn.fetchval("SELECT id FROM prospects WHERE email_hash = $1", address_hash)


async def get(
    conn: asyncpg.Connection, prospect_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM prospects WHERE id = $1{lock}", prospect_id)


def _like_pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(status: str | None, q: str | None, audience: Predicate | None) -> tuple[str, list[Any]]:
    """WHERE clause with only the filters given, so each shape gets its own plan."""
    conditions, args = [], []
    if status:
        args.append(status)
        conditions.append(f"status = ${len(args)}")
    if q:
        # prospect_search holds lower(email names company) under a trigram index: a
        # substring LIKE uses it from three characters on.
        args.append(_like_pattern(q))
        conditions.append(f"id IN (SELECT id FROM prospect_search WHERE search_text LIKE ${len(args)})")
    if audience is not None:
        conditions.append(audience.sql)
        args.extend(audience.args)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", args


def first_audience_parameter(status: str | None, q: str | None) -> int:
    """Where an audience predicate's parameters start in `search`'s statement."""
    return 1 + bool(status) + bool(q)


async def search(
    conn: asyncpg.Connection, *, status: str | None, q: str | None, limit: int, offset: int,
    audience: Predicate | None = None, counted: CountedShape | None = None,
) -> tuple[list[asyncpg.Record], int]:  # fmt: skip
    """`audience`: compiled with first=first_audience_parameter(status, q), over `prospects`.
    `counted`: the filters' shape when prospect_counts answers the total (shared.audience)."""
    where, args = _filters(status, q, audience)
    n = len(args)
    # Newest first: ids are UUIDv7, so id order is creation order and the primary
    # key (or prospects_status_idx) serves ORDER BY ... LIMIT.
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM prospects{where} ORDER BY id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    if counted is not None:
        return rows, await count_of(conn, counted)
    total = await conn.fetchval(f"SELECT count(*) FROM prospects{where}", *args)
    return rows, total


async def count_of(conn: asyncpg.Connection, shape: CountedShape) -> int:
    """The prospects of a tag ('' any) and statuses (None any), from prospect_counts."""
    return await conn.fetchval(
        "SELECT coalesce(sum(n), 0) FROM prospect_counts WHERE tag = $1 AND ($2::text[] IS NULL OR status = ANY($2))",
        shape.tag,
        list(shape.statuses) if shape.statuses is not None else None,
    )


async def tag_counts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT tag, sum(n) AS prospects FROM prospect_counts WHERE tag <> '' "
        "GROUP BY tag HAVING sum(n) > 0 ORDER BY sum(n) DESC, tag"
    )


async def attribute_keys(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    """The custom fields a template may use (shared.lifecycle.prospect keeps the registry)."""
    return [r["key"] for r in await conn.fetch("SELECT key FROM attribute_keys ORDER BY key")]
