"""Who a campaign still reaches: one definition, used by the sender to walk it in batches
and by the gateway and the operator to count it.

Eligible = in the campaign's audience ∧ active ∧ not suppressed ∧ not yet claimed for
this campaign ∧ (with a frequency cap) not claimed by another campaign in its last N
days. The audience is read with each batch: a prospect who joins the segment
mid-campaign is reached, one who leaves it is not.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.audience import Predicate, compile_rule

# $1 campaign, $2 limit, $3 after this seq; the audience's parameters follow.
BASE = """
SELECT p.id, p.seq, p.email, p.first_name, p.last_name, p.company, p.title, p.attributes
FROM prospects p
WHERE p.status = 'active'
  AND p.seq > $3
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND NOT EXISTS (SELECT 1 FROM email_sends es
                  WHERE es.campaign_id = $1 AND es.prospect_id = p.id AND es.retried_at IS NULL)
"""
# A failed send reached nobody; claimed, sent and unknown ones may have.
CAPPED = """
  AND NOT EXISTS (SELECT 1 FROM email_sends recent
                  WHERE recent.prospect_id = p.id AND recent.campaign_id IS DISTINCT FROM $1
                    AND recent.outcome <> 'failed' AND recent.claimed_at > now() - make_interval(days => {days}))
"""
ORDER = "ORDER BY p.seq LIMIT $2"
# Counts walk every active prospect (about 0.3 s at 1M): asked for on one campaign's page
# and off the send path, not in lists.
ALL = 2_147_483_647

CAMPAIGN_AUDIENCE = """
SELECT c.audience, c.frequency_cap_days, s.rule AS segment_rule, s.id IS NOT NULL AS segment_found
FROM email_campaigns c
LEFT JOIN segments s ON s.id = (c.audience ->> 'segment_id')::uuid
WHERE c.id = $1
"""


class AudienceGone(LookupError):
    """The campaign's segment no longer exists (deletion is refused while one uses it)."""


@dataclass(frozen=True)
class Audience:
    rule: Any | None = None  # None: every active prospect
    frequency_cap_days: int | None = None


async def audience_of(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID) -> Audience:
    row = await conn.fetchrow(CAMPAIGN_AUDIENCE, campaign_id)
    if row is None or row["audience"] is None:
        return Audience(frequency_cap_days=row["frequency_cap_days"] if row else None)
    audience = dict(row["audience"])
    if "segment_id" in audience:
        if not row["segment_found"]:
            raise AudienceGone(f"campaign {campaign_id}: segment {audience['segment_id']} no longer exists")
        return Audience(row["segment_rule"], row["frequency_cap_days"])
    return Audience(audience.get("rule"), row["frequency_cap_days"])


def statement(audience: Audience) -> tuple[str, tuple[Any, ...]]:
    """The batch query for this audience, and its parameters after the first three."""
    sql, args = BASE, tuple[Any, ...]()
    if audience.rule is not None:
        predicate: Predicate = compile_rule(audience.rule, first=4, table="p")
        sql += f"  AND {predicate.sql}\n"
        args = predicate.args
    if audience.frequency_cap_days is not None:
        sql += CAPPED.format(days=f"${4 + len(args)}::int")
        args = (*args, audience.frequency_cap_days)
    return sql + ORDER, args


async def batch(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, limit: int, after_seq: int
) -> list[asyncpg.Record]:
    sql, args = statement(await audience_of(conn, campaign_id))
    return await conn.fetch(sql, campaign_id, limit, after_seq, *args)


async def count(conn: Any, campaign_id: uuid.UUID, audience: Audience | None = None) -> int:
    """How many the sender would reach now (`audience`: instead of the campaign's own,
    for a draft's unsaved audience)."""
    sql, args = statement(audience if audience is not None else await audience_of(conn, campaign_id))
    return int(await conn.fetchval(f"SELECT count(*) FROM ({sql}) eligible", campaign_id, ALL, 0, *args))


async def member(conn: Any, campaign_id: uuid.UUID, index: int) -> asyncpg.Record | None:
    """The index-th prospect (from 0) the campaign would reach now, in the sender's order."""
    sql, args = statement(await audience_of(conn, campaign_id))
    offset = f"${4 + len(args)}"
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT * FROM ({sql}) eligible ORDER BY seq OFFSET {offset}", campaign_id, ALL, 0, *args, index
    )
    return row


KNOWN_COLUMNS = frozenset({"first_name", "last_name", "company", "title"})


async def missing_values(conn: Any, campaign_id: uuid.UUID, names: list[str]) -> tuple[int, dict[str, int]]:
    """How many the campaign reaches now, and of them how many have no value (missing or
    blank) for each name: a known column or an attribute key."""
    sql, args = statement(await audience_of(conn, campaign_id))
    first = 4 + len(args)
    tests, keys = [], []
    for name in names:
        if name in KNOWN_COLUMNS:
            tests.append(f"count(*) FILTER (WHERE coalesce(btrim(e.{name}), '') = '')")
        else:
            keys.append(name)
            key = f"${first + len(keys) - 1}::text"
            tests.append(f"count(*) FILTER (WHERE coalesce(btrim(e.attributes ->> {key}), '') = '')")
    columns = ", ".join(["count(*)", *tests])
    row = await conn.fetchrow(f"SELECT {columns} FROM ({sql}) e", campaign_id, ALL, 0, *args, *keys)
    return int(row[0]), {name: int(row[i + 1]) for i, name in enumerate(names)}
