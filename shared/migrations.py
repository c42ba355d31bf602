"""Forward-only migrations over plain SQL files (infra/migrations/NNNN_name.sql).

Each file runs in its own transaction and is recorded with its checksum in
schema_migrations. A session-level advisory lock makes concurrent runs (every
service migrates at start) wait for each other instead of racing; an applied
file whose content changed is refused rather than silently skipped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.logging import get_logger

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "infra" / "migrations"
# An arbitrary constant that identifies "the migration runner" among advisory locks.
MIGRATION_LOCK_KEY = 0x6F757472_6D696772  # "outrmigr"
_FILENAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

log = get_logger(__name__)


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"badly named migration file {path.name} (want NNNN_name.sql)")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return migrations


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        # Only when missing: a service's role may read the table but not create in the schema.
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            await conn.execute(
                """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
            )
        applied = {
            row["version"]: row
            for row in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in discover(directory):
            previous = applied.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration applied", migration=migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def pending(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """The migrations of this version not applied yet; a changed applied one is an error.
    Reads only: a service's role may ask (a pod waiting for the migration job)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return [m.name for m in discover(directory)]
    applied = {
        row["version"]: row["checksum"]
        for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
    }
    missing = []
    for migration in discover(directory):
        checksum = applied.get(migration.version)
        if checksum is None:
            missing.append(migration.name)
        elif checksum != migration.checksum:
            raise MigrationError(f"migration {migration.name} differs from the one applied")
    return missing


async def migrate_database(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Connect, apply pending migrations, disconnect."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, directory)
    finally:
        await conn.close()
