"""Migrations: forward-only, recorded, safe to run twice and concurrently."""

from __future__ import annotations

import asyncio
import shutil
import uuid

import asyncpg
import pytest

from shared import db
from shared.campaign_stats import STAT_NAMES
from shared.migrations import MIGRATION_LOCK_KEY, MIGRATIONS_DIR, MigrationError, discover, migrate_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def empty_database(backend):
    url = db.with_database(backend.database_url, f"outreach_test_empty_{uuid.uuid4().hex[:10]}")
    assert await db.ensure_database(url) is True
    assert await db.ensure_database(url) is False  # exists now: nothing to do
    yield url
    admin = await asyncpg.connect(backend.database_url)
    try:
        await admin.execute(f'DROP DATABASE "{db.database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


async def run_migrate(url: str, directory=MIGRATIONS_DIR) -> list[str]:
    return await migrate_database(url, directory)


async def test_migrations_apply_concurrently_and_then_twice_without_error(empty_database):
    results = await asyncio.gather(*(run_migrate(empty_database) for _ in range(6)))
    expected = [m.name for m in discover()]
    # Exactly one runner applied each file; the others found it done.
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(expected)
    assert await run_migrate(empty_database) == []
    conn = await asyncpg.connect(empty_database)
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert [r["name"] for r in rows] == expected


async def test_an_edited_applied_migration_is_refused(empty_database, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "9000_extra.sql").write_text("CREATE TABLE extra (id int);")
    await run_migrate(empty_database, directory)
    (directory / "9000_extra.sql").write_text("CREATE TABLE extra (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await run_migrate(empty_database, directory)


async def test_a_failing_migration_leaves_nothing_half_applied(empty_database, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "9001_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await run_migrate(empty_database, directory)
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert not await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9001")
        # The advisory lock was released: a later run proceeds.
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()


def test_badly_named_files_are_refused(tmp_path):
    (tmp_path / "1_oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="badly named"):
        discover(tmp_path)


async def test_the_stats_table_has_a_counter_for_each_stat_name(database_url):
    """The one list of stat names (shared.campaign_stats) against the projector's table."""
    conn = await asyncpg.connect(database_url)
    try:
        columns = {
            row["column_name"]: row["data_type"]
            for row in await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'campaign_stats'"
            )
        }
    finally:
        await conn.close()
    assert {name: columns.get(name) for name in STAT_NAMES} == dict.fromkeys(STAT_NAMES, "bigint")
