"""asyncpg pool helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

# The errors of a database that is restarting, failing over or out of reach, not of the
# statement itself: worth waiting out (the sender) or answering 503 (HTTP). The one list.
DATABASE_AWAY: tuple[type[BaseException], ...] = (
    OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
    # A connection the server dropped mid-operation can be left in a state asyncpg refuses.
    asyncpg.InternalClientError,
)  # fmt: skip


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns come back as Python objects and accept them on the way in.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A light reset on release: nothing here leaves session state behind (settings
    are SET LOCAL, advisory locks transaction-scoped, LISTEN on its own connection),
    and asyncpg's default reset costs a round trip on every release. A transaction
    left open (a task cancelled mid-way) is still rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, server_settings: Mapping[str, str] | None = None
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings=dict(server_settings or {}),
        init=_init_connection,
        command_timeout=60,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def pool_context(
    dsn: str, *, min_size: int = 1, max_size: int = 10, server_settings: Mapping[str, str] | None = None
) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, min_size=min_size, max_size=max_size, server_settings=server_settings)
    try:
        yield pool
    finally:
        await pool.close()


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


async def ensure_database(dsn: str) -> bool:
    """Create the DSN's database when it does not exist. Returns True when it was created."""
    name = database_name(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            # Identifiers cannot be bound parameters; quote_ident makes the name safe.
            quoted = await admin.fetchval("SELECT quote_ident($1)", name)
            await admin.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            return False  # another service created it at the same moment
        return True
    finally:
        await admin.close()


def set_clause(changes: Mapping[str, Any], *, first: int, allowed: frozenset[str]) -> tuple[str, list[Any]]:
    """`a = $first, b = $first+1, ...` and the values in that order, for an UPDATE's SET.

    The column names come from the code, never from input (callers pass validated
    model fields), and must be among `allowed`; the values are parameters."""
    if unknown := set(changes) - allowed:
        raise ValueError(f"columns not allowed here: {sorted(unknown)}")
    names = list(changes)
    return ", ".join(f"{name} = ${first + i}" for i, name in enumerate(names)), [changes[n] for n in names]
