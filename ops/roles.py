"""Least privilege in PostgreSQL: migrations run as one owner role, each service connects as
its own login role with grants on the tables it writes or reads (docs/architecture.md's
ownership matrix; docs/security.md). None is a superuser; no service role owns anything, so
none can change the schema, read another service's secrets (admin_users, api_keys) or
write a table its code does not write.

`prepare_database` does it all, idempotently, with an administrator's connection (a
superuser, or a role with CREATEROLE that may SET ROLE to the owner): `outreach migrate`
calls it, and so does the test suite for each database it creates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from shared import db
from shared.migrations import migrate

OWNER_ROLE = "outreach_owner"
SERVICE_ROLES: Mapping[str, str] = {
    "api-gateway": "outreach_gateway",
    "event-ingest": "outreach_ingest",
    "unsubscribe": "outreach_unsubscribe",
    "sender": "outreach_sender",
    "projector": "outreach_projector",
}

READ = "SELECT"
WRITE = "SELECT, INSERT, UPDATE, DELETE"
# Every service that appends events runs an outbox relay: it reads them, locks a batch
# (FOR UPDATE needs an UPDATE grant) and marks them published. Nothing else of an event changes.
APPENDS = {"events": "SELECT, INSERT, UPDATE (published_at)"}
# Where a migration stands: read at start (migrate_on_start finds nothing to do).
COMMON = {"schema_migrations": READ}

# Per role, table -> privileges. A table missing from a role's map is out of its reach.
GRANTS: Mapping[str, Mapping[str, str]] = {
    "outreach_gateway": {
        **COMMON, **APPENDS,
        "prospects": WRITE, "suppressions": WRITE, "legacy_suppressions": WRITE,
        "suppression_key": "SELECT, UPDATE", "opt_out_links": READ,
        "email_campaigns": WRITE, "email_sends": "SELECT, UPDATE",
        "send_status": READ, "campaign_stats": READ, "campaign_step_stats": READ, "unsubscribes": READ,
        # Erasure deletes a person's raw input (shared.lifecycle.prospect.erase).
        "ses_events_raw": "SELECT, DELETE", "rejected_payloads": "SELECT, DELETE",
        "admin_users": WRITE, "api_keys": WRITE, "segments": WRITE, "attribute_keys": "SELECT, INSERT",
        # A prospect created or edited keeps its search row in the same statement.
        "prospect_search": WRITE, "prospect_counts": READ,
        # The admin's manual stop; the campaign page's queue and stops.
        "sequence_stops": "SELECT, INSERT", "sequence_progress": READ,
        # The replies inbox (marked handled there; erasure deletes a person's mail).
        "inbound_mail": "SELECT, UPDATE, DELETE", "reply_forwards": READ,
        # The domains of new prospects, queued for the MX check.
        "email_domains": "SELECT, INSERT",
        # The warm-up's figures, marked warm or restarted by an admin; the kill switch's re-enable.
        "sending_domains": WRITE, "sending_switch": "SELECT, UPDATE",
    },
    "outreach_sender": {
        **COMMON, **APPENDS,
        "prospects": READ, "suppressions": READ, "email_campaigns": "SELECT, UPDATE",
        "email_sends": WRITE, "processed_events": "SELECT, INSERT",
        # A campaign's audience: its segment's rule, and engagement rules read send_status.
        "segments": READ, "send_status": READ,
        # Where each prospect is in a sequence (written with each outcome), and who stopped.
        "sequence_progress": WRITE, "sequence_stops": READ,
        # Forwarding replies: the original, and the forward's claim and outcome.
        "inbound_mail": READ, "reply_forwards": "SELECT, UPDATE",
        # The warm-up (a domain's row made on its first send); the SES suppression list
        # (pushed, and synced back); the kill switch, applied to SES.
        "sending_domains": "SELECT, INSERT", "ses_suppression_pushes": WRITE, "sending_switch": "SELECT, UPDATE",
    },
    "outreach_ingest": {
        **COMMON, **APPENDS,
        "email_sends": READ, "email_campaigns": "SELECT, UPDATE",
        "ses_events_raw": WRITE, "rejected_payloads": WRITE,
        # Received mail: stored, matched (sends, prospects), a removal request is an opt-out,
        # a forward asked for.
        "inbound_mail": "SELECT, INSERT, UPDATE", "reply_forwards": "SELECT, INSERT",
        "processed_events": "SELECT, INSERT",
        "prospects": "SELECT, UPDATE", "opt_out_links": "SELECT, INSERT",
    },
    "outreach_projector": {
        **COMMON, **APPENDS,
        "prospects": "SELECT, UPDATE", "email_campaigns": "SELECT, UPDATE", "email_sends": READ,
        "processed_events": WRITE,
        # A rebuild truncates its read tables and replays the store.
        "send_status": f"{WRITE}, TRUNCATE", "campaign_stats": f"{WRITE}, TRUNCATE",
        "campaign_step_stats": f"{WRITE}, TRUNCATE", "unsubscribes": f"{WRITE}, TRUNCATE",
        # The search indexer: imported prospects into prospect_search.
        "prospect_search": "SELECT, INSERT, UPDATE", "search_refresh": WRITE,
        # Folds the rows of prospect_counts (the triggers of prospects add them).
        "prospect_counts": "SELECT, INSERT, DELETE",
        # The stops that follow events (a reply, an unsubscribe, ... as stop_on says).
        "sequence_stops": "SELECT, INSERT",
        # The MX check: imported prospects' domains queued (the indexer), what DNS said.
        "email_domains": "SELECT, INSERT, UPDATE",
        # The account-level reputation guard turns the kill switch off.
        "sending_switch": "SELECT, UPDATE",
    },
    "outreach_unsubscribe": {
        **COMMON, **APPENDS,
        "prospects": "SELECT, UPDATE", "opt_out_links": "SELECT, INSERT", "email_campaigns": READ,
        "email_sends": READ,
    },
}  # fmt: skip


def password_variable(role: str) -> str:
    """Where `outreach migrate` reads a role's password: OUTREACH_GATEWAY_DB_PASSWORD, ..."""
    return f"{role.upper()}_DB_PASSWORD"


def role_dsn(dsn: str, role: str, password: str | None = None) -> str:
    """`dsn` (server and database) as `role` logs in."""
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    credentials = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    netloc = f"{credentials}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def _quoted(conn: asyncpg.Connection, function: str, value: str) -> str:
    # Identifiers and literals cannot be bound in utility statements; the server quotes them.
    return str(await conn.fetchval(f"SELECT {function}($1)", value))


async def ensure_roles(conn: asyncpg.Connection, passwords: Mapping[str, str]) -> None:
    """The owner (no login: SET ROLE to it) and the service roles (login, nothing more);
    a role's password is set when `passwords` has one."""
    for role in (OWNER_ROLE, *SERVICE_ROLES.values()):
        login = "NOLOGIN" if role == OWNER_ROLE else "LOGIN"
        name = await _quoted(conn, "quote_ident", role)
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            with contextlib.suppress(asyncpg.DuplicateObjectError):  # another run, at the same moment
                await conn.execute(f"CREATE ROLE {name} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE")
        if password := passwords.get(role):
            await conn.execute(f"ALTER ROLE {name} PASSWORD {await _quoted(conn, 'quote_literal', password)}")
    if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        await conn.execute(f"GRANT {OWNER_ROLE} TO CURRENT_USER")  # to SET ROLE to it


# Tables, views and functions in the schema that someone else owns (a database from before
# the roles): the owner takes them over, so migrations can alter them.
FOREIGN_OBJECTS = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind,
       format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> $1::regrole
UNION ALL
SELECT 'FUNCTION', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proowner <> $1::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')  -- an extension's
"""


async def take_ownership(conn: asyncpg.Connection, database: str) -> None:
    """In the connection's database: the owner may create in it (trusted extensions too) and
    in `public`, and owns what is there."""
    quoted_db = await _quoted(conn, "quote_ident", database)
    await conn.execute(f"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {quoted_db} TO {OWNER_ROLE}")
    await conn.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {OWNER_ROLE}")
    for row in await conn.fetch(FOREIGN_OBJECTS, OWNER_ROLE):
        await conn.execute(f"ALTER {row['kind']} {row['name']} OWNER TO {OWNER_ROLE}")


async def grant(conn: asyncpg.Connection, database: str) -> None:
    """Each service role's grants, exactly: whatever it held before is revoked first."""
    quoted_db = await _quoted(conn, "quote_ident", database)
    tables = {
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    for role, privileges in GRANTS.items():
        await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {quoted_db} TO {role}")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        for table, what in privileges.items():
            if table not in tables:
                raise RuntimeError(f"ops.roles grants {role} on {table}, which no migration creates")
            await conn.execute(f"GRANT {what} ON {table} TO {role}")


async def prepare_database(admin_dsn: str, passwords: Mapping[str, str] | None = None) -> list[str]:
    """Create the database if missing, the roles, the owner's hold on the schema; apply the
    migrations as the owner; grant each service its tables. Returns the migrations applied."""
    await db.ensure_database(admin_dsn)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await ensure_roles(conn, passwords or {})
        await take_ownership(conn, db.database_name(admin_dsn))
        await conn.execute(f"SET ROLE {OWNER_ROLE}")
        applied = await migrate(conn)
        await grant(conn, db.database_name(admin_dsn))
        await conn.execute("RESET ROLE")
        return applied
    finally:
        await conn.close()
