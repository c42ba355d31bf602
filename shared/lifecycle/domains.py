"""email_domains (migration 0026): the MX check's queue and verdicts. Domains are queued
by the statements that create prospects (QUEUE, in shared.lifecycle.prospect's); the
projector's MX checker reads the due ones, records what DNS said, and has
shared.lifecycle.prospect flag the prospects of the domains whose answer flipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

# The domain of a stored address (lower-cased after the last @), in SQL.
DOMAIN_OF = "substring({email} from '[^@]*$')"
RECHECK = "30 days"
# A domain DNS did not answer for is asked again after 1, 2, 4 … minutes, at most a day.
RETRY_MINUTES_MAX = 24 * 60

DUE = """
SELECT domain FROM email_domains WHERE next_check_at <= now() ORDER BY next_check_at LIMIT $1
"""
# The verdicts stored; returned: the domains whose answer flipped (from unknown or
# "takes mail" to "takes none", or back), the only ones whose prospects change.
RECORD = f"""
WITH v AS (
    SELECT * FROM unnest($1::text[], $2::boolean[], $3::text[]) AS v (domain, accepts_mail, detail)
), before AS (
    SELECT d.domain, d.accepts_mail FROM email_domains d JOIN v USING (domain)
), stored AS (
    UPDATE email_domains d SET
        accepts_mail = coalesce(v.accepts_mail, d.accepts_mail),
        checked_at = CASE WHEN v.accepts_mail IS NULL THEN d.checked_at ELSE now() END,
        attempts = CASE WHEN v.accepts_mail IS NULL THEN d.attempts + 1 ELSE 0 END,
        next_check_at = now() + CASE WHEN v.accepts_mail IS NULL
            THEN make_interval(mins => least(power(2, least(d.attempts, 20))::int, {RETRY_MINUTES_MAX}))
            ELSE interval '{RECHECK}' END,
        detail = v.detail
    FROM v WHERE d.domain = v.domain
    RETURNING d.domain, d.accepts_mail
)
SELECT s.domain, s.accepts_mail FROM stored s JOIN before b USING (domain)
WHERE s.accepts_mail = false AND b.accepts_mail IS DISTINCT FROM false
   OR s.accepts_mail = true AND b.accepts_mail = false
"""
# A CTE for the statements that create prospects (shared.lifecycle.prospect): the new
# rows' domains queued ({domains}: a query of one column of domains).
QUEUE = "INSERT INTO email_domains (domain) {domains} ON CONFLICT DO NOTHING"


@dataclass(frozen=True)
class Verdict:
    domain: str
    accepts_mail: bool | None  # None: DNS did not answer
    detail: str


async def due(conn: asyncpg.Connection | asyncpg.Pool, limit: int) -> list[str]:
    return [row["domain"] for row in await conn.fetch(DUE, limit)]


@dataclass(frozen=True)
class Flipped:
    """Domains whose answer changed: their prospects' no_mx flag follows."""

    no_mail: list[str]  # now take no mail (were unknown or took it)
    mail: list[str]  # take mail again


async def record(conn: asyncpg.Connection, verdicts: Sequence[Verdict]) -> Flipped:
    """Store the verdicts (in the caller's transaction, with the prospects' flags)."""
    rows = await conn.fetch(
        RECORD, [v.domain for v in verdicts], [v.accepts_mail for v in verdicts], [v.detail for v in verdicts]
    )
    return Flipped(
        [r["domain"] for r in rows if not r["accepts_mail"]], [r["domain"] for r in rows if r["accepts_mail"]]
    )
