"""The admin_users SQL."""

from __future__ import annotations

import asyncpg

from shared.ids import uuid7


async def find_by_email(pool: asyncpg.Pool, email: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT id, email, password_hash, token_version FROM admin_users WHERE lower(email) = lower($1)",
        email,
    )


async def token_version(pool: asyncpg.Pool, admin_id: object) -> int | None:
    """The version a token must carry to be valid; None when the admin is gone."""
    version = await pool.fetchval("SELECT token_version FROM admin_users WHERE id = $1", admin_id)
    return None if version is None else int(version)


async def revoke_tokens(pool: asyncpg.Pool, admin_id: object) -> bool:
    """Sign-out: every token issued so far stops working."""
    return bool(await pool.fetchval(
        "UPDATE admin_users SET token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING true",
        admin_id,
    ))  # fmt: skip


async def signed_in(pool: asyncpg.Pool, admin_id: object) -> None:
    await pool.execute("UPDATE admin_users SET last_login_at = now() WHERE id = $1", admin_id)


async def upsert(conn: asyncpg.Connection | asyncpg.Pool, email: str, password_hash: str) -> bool:
    """Create the admin, or set a new password for an existing one (which revokes the
    tokens it had). True when created."""
    return bool(
        await conn.fetchval(
            """
            INSERT INTO admin_users (id, email, password_hash) VALUES ($1, $2, $3)
            ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash,
                token_version = admin_users.token_version + 1, updated_at = now()
            RETURNING xmax = 0
            """,
            uuid7(),
            email,
            password_hash,
        )
    )
