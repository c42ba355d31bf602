"""The kill switch (sending_switch, migration 0028): whether sending on the SES
configuration set should be enabled, who changed it and why, and whether SES was told.

The projector's account-level reputation guard turns it off (and pauses every sending
campaign); the sender applies each change to SES (PutConfigurationSetSendingOptions)
and refuses to send while it is off; only an admin turns it on again, knowing that SES
then resets the configuration set's reputation metrics. The guard counts sends from
`guard_from`, which a re-enable moves to now: a new start, as SES's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import asyncpg

COLUMNS = "enabled, reason, changed_by, changed_at, applied_at, apply_error, guard_from"
READ = f"SELECT {COLUMNS} FROM sending_switch"
# Off: only from on (the first trip wins; a second guard run finds it off).
TURN_OFF = f"""
UPDATE sending_switch SET enabled = false, reason = $1, changed_by = $2, changed_at = now(),
       applied_at = NULL, apply_error = NULL
WHERE enabled RETURNING {COLUMNS}
"""
TURN_ON = f"""
UPDATE sending_switch SET enabled = true, reason = $1, changed_by = $2, changed_at = now(),
       applied_at = NULL, apply_error = NULL, guard_from = now()
WHERE NOT enabled RETURNING {COLUMNS}
"""
# What the sender found when it told SES; only for the change it read (a newer one is told next).
APPLIED = """
UPDATE sending_switch SET applied_at = CASE WHEN $2::text IS NULL THEN now() END, apply_error = $2
WHERE changed_at = $1
"""
# The account's sends of the last 7 days, and their bounces and complaints; once a re-enable
# set guard_from, only those since (greatest skips a NULL).
ACCOUNT_COUNTS = """
SELECT count(*) AS sent, count(bounced_at) AS bounced, count(complained_at) AS complained
FROM send_status
WHERE sent_at >= greatest(now() - interval '7 days', (SELECT guard_from FROM sending_switch))
"""


@dataclass(frozen=True)
class Switch:
    enabled: bool
    reason: str | None
    changed_by: str | None
    changed_at: datetime
    applied_at: datetime | None
    apply_error: str | None
    guard_from: datetime | None  # None: never re-enabled (the whole 7 days count)

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


def _switch(row: asyncpg.Record) -> Switch:
    return Switch(**dict(row))


async def read(conn: Conn) -> Switch:
    row = await conn.fetchrow(READ)
    if row is None:  # the migration inserts the row; a missing one is a broken schema
        raise RuntimeError("sending_switch has no row: run `outreach migrate`")
    return _switch(row)


async def turn_off(conn: Conn, reason: str, by: str) -> Switch | None:
    """None when it was off already."""
    row = await conn.fetchrow(TURN_OFF, reason, by)
    return _switch(row) if row else None


async def turn_on(conn: Conn, reason: str, by: str) -> Switch | None:
    """None when it was on already."""
    row = await conn.fetchrow(TURN_ON, reason, by)
    return _switch(row) if row else None


async def applied(conn: Conn, changed_at: datetime, error: str | None) -> None:
    await conn.execute(APPLIED, changed_at, error)


async def account_counts(conn: Conn) -> tuple[int, int, int]:
    row = await conn.fetchrow(ACCOUNT_COUNTS)
    return int(row["sent"]), int(row["bounced"]), int(row["complained"])
