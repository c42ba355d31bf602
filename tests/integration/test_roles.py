"""Least privilege: migrations run as the owner role, each service as its own role, with the
grants of ops.roles and nothing more. (Every service in the suites connects as its role, so
a missing grant fails the test that needs it; these check what must be refused.)"""

from __future__ import annotations

import shutil
import uuid

import asyncpg
import pytest

from ops.roles import GRANTS, OWNER_ROLE, SERVICE_ROLES, prepare_database
from shared import db
from shared.migrations import MIGRATIONS_DIR, migrate_database
from tests.harness.roles import as_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def fresh_url(backend):
    url = db.with_database(backend.database_url, f"outreach_test_roles_{uuid.uuid4().hex[:10]}")
    yield url
    admin = await asyncpg.connect(backend.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db.database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


async def owners(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind IN ('r', 'p')"
    )
    return {r["owner"] for r in rows}


async def test_no_service_role_may_do_more_than_log_in(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls FROM pg_roles"
            " WHERE rolname = ANY($1::text[])",
            [OWNER_ROLE, *SERVICE_ROLES.values()],
        )
        assert len(rows) == len(SERVICE_ROLES) + 1
        for row in rows:
            assert not (row["rolsuper"] or row["rolcreaterole"] or row["rolcreatedb"] or row["rolbypassrls"])
            assert row["rolcanlogin"] is (row["rolname"] != OWNER_ROLE), row["rolname"]
        assert await owners(conn) == {OWNER_ROLE}, "the owner role owns every table; no service owns one"
    finally:
        await conn.close()


# What a role's code never does, so its grants must refuse it.
REFUSED = [
    ("sender", "DELETE FROM prospects"),
    ("sender", "SELECT count(*) FROM admin_users"),
    ("sender", "SELECT count(*) FROM ses_events_raw"),
    ("unsubscribe", "SELECT count(*) FROM api_keys"),
    ("unsubscribe", "DELETE FROM suppressions"),
    ("unsubscribe", "UPDATE email_campaigns SET status = 'cancelled'"),
    ("event-ingest", "DELETE FROM prospects"),
    ("event-ingest", "SELECT count(*) FROM suppressions"),
    ("projector", "SELECT count(*) FROM admin_users"),
    ("projector", "DELETE FROM ses_events_raw"),
    ("api-gateway", "TRUNCATE send_status"),
    ("api-gateway", "UPDATE events SET data = '{}'::jsonb"),  # only published_at, for its relay
    ("api-gateway", "CREATE TABLE mine (id int)"),
    ("api-gateway", "DROP TABLE prospects"),
]


@pytest.mark.parametrize(("service", "statement"), REFUSED)
async def test_a_service_role_is_refused_what_it_does_not_do(database_url, service, statement):
    conn = await asyncpg.connect(as_service(database_url, service))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_each_role_holds_exactly_its_grants(database_url):
    """A privilege given by hand is taken back by the next `outreach migrate`."""
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("GRANT SELECT ON admin_users TO outreach_sender")
        await prepare_database(database_url)
        for role, tables in GRANTS.items():
            held = await admin.fetch(
                "SELECT DISTINCT table_name FROM information_schema.role_table_grants"
                " WHERE grantee = $1 AND table_schema = 'public'",
                role,
            )
            columns = await admin.fetch(
                "SELECT DISTINCT table_name FROM information_schema.role_column_grants"
                " WHERE grantee = $1 AND table_schema = 'public'",
                role,
            )
            assert {r["table_name"] for r in held} | {r["table_name"] for r in columns} == set(tables), role
    finally:
        await admin.close()


async def test_a_database_of_an_older_version_is_taken_over_by_the_owner(fresh_url, tmp_path):
    """Before the roles, migrations ran as whoever connected: their tables change owner, and
    the migrations after them run as the owner."""
    older = tmp_path / "older"
    older.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:14]:
        shutil.copy(path, older)
    await db.ensure_database(fresh_url)
    await migrate_database(fresh_url, older)  # as the superuser, the way 0014 and before ran
    applied = await prepare_database(fresh_url)
    assert applied == [p.name for p in sorted(MIGRATIONS_DIR.glob("*.sql"))[14:]]
    conn = await asyncpg.connect(fresh_url)
    try:
        assert await owners(conn) == {OWNER_ROLE}
        functions = await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(proowner) AS owner FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind = 'f'"
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
        )
        assert {r["owner"] for r in functions} == {OWNER_ROLE}
    finally:
        await conn.close()
    assert await prepare_database(fresh_url) == [], "idempotent"
