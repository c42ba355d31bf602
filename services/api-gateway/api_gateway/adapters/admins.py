"""The admin_users SQL."""

from __future__ import annotations

import asyncpg

from shared.ids import uuid7


async def find_by_email(pool: asyncpg.Pool, email: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT id, email, password_hash FROM admin_users WHERE lower(email) = lower($1)", email
    )


async def signed_in(pool: asyncpg.Pool, admin_id: object) -> None:
    await pool.execute("UPDATE admin_users SET last_login_at = now() WHERE id = $1", admin_id)


async def upsert(conn: asyncpg.Connection | asyncpg.Pool, email: str, password_hash: str) -> bool:
    """Create the admin, or set a new password for an existing one. True when created."""
    return bool(
        await conn.fetchval(
            """
            INSERT INTO admin_users (id, email, password_hash) VALUES ($1, $2, $3)
            ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()
            RETURNING xmax = 0
            """,
            uuid7(),
            email,
            password_hash,
        )
    )
