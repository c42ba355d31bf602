"""The api_keys SQL."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from api_gateway.api_keys import ApiKey, key_hash
from shared.ids import uuid7

# Used and touched in one statement; last_used_at is written at most once a minute per key.
USE = """
WITH found AS (SELECT id, name, scopes, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
touched AS (UPDATE api_keys k SET last_used_at = now() FROM found
            WHERE k.id = found.id AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute'))
SELECT name, scopes FROM found
"""


async def use(pool: asyncpg.Pool, key: str) -> ApiKey | None:
    row = await pool.fetchrow(USE, key_hash(key))
    return None if row is None else ApiKey(row["name"], frozenset(row["scopes"]))


async def create(pool: asyncpg.Pool, name: str, key: str, scopes: Iterable[str]) -> None:
    await pool.execute(
        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes) VALUES ($1, $2, $3, $4, $5)",
        uuid7(), name, key[:7], key_hash(key), sorted(scopes),
    )  # fmt: skip


async def listing(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT name, prefix, scopes, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at"
    )


async def revoke(pool: asyncpg.Pool, name: str) -> bool:
    status = await pool.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", name
    )
    return status != "UPDATE 0"
