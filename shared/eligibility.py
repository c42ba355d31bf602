"""Who a campaign still reaches: one definition, used by the sender to walk it in batches
and by the gateway and the operator to count it.

Eligible = in the campaign's audience ∧ active ∧ not suppressed ∧ not yet claimed for
this campaign ∧ (with a frequency cap) not claimed by another campaign in its last N
days ∧ (unless the campaign opts in) no address flag (shared.address_checks). The
audience is read with each batch: a prospect who joins the segment mid-campaign is
reached, one who leaves it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from shared.audience import ADDRESS_FLAGS, Predicate, compile_rule
from shared.lifecycle.domains import DOMAIN_OF
from shared.schedule import Schedule

# $1 campaign, $2 limit, $3 after this seq; the audience's parameters follow.
BASE = """
SELECT p.id, p.seq, p.email, p.first_name, p.last_name, p.company, p.title, p.attributes, p.timezone
FROM prospects p
WHERE p.status = 'active'
  AND p.seq > $3
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND NOT EXISTS (SELECT 1 FROM email_sends es
                  WHERE es.campaign_id = $1 AND es.prospect_id = p.id AND es.retried_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = $1 AND st.prospect_id = p.id)
"""
# A schedule in each prospect's own time: only those whose window is open now (migration 0023).
IN_WINDOW = """
  AND outreach_window_open({at}::timestamptz, coalesce(p.timezone, {fallback}::text), {days}::int[],
                           {opens}::time, {closes}::time)
"""
# A failed send reached nobody; claimed, sent and unknown ones may have.
CAPPED = """
  AND NOT EXISTS (SELECT 1 FROM email_sends recent
                  WHERE recent.prospect_id = p.id AND recent.campaign_id IS DISTINCT FROM $1
                    AND recent.outcome <> 'failed' AND recent.claimed_at > now() - make_interval(days => {days})
                 )
"""
ORDER = "ORDER BY p.seq LIMIT $2"
# The sender's per-domain pacing: domains it already holds enough of (sender.pacing).
SKIP_DOMAINS = f"  AND NOT {DOMAIN_OF.format(email='p.email')} = ANY({{param}}::text[])\n"
# For the pools that run these statements on the send path (the sender's). With statistics
# that say a campaign has no claims yet (a new campaign, autovacuum behind or off), the
# planner materialised the campaign's claims under a nested-loop anti-join and compared
# every prospect with all of them: 22-45 s for one batch at 20-30K claims. Without
# Materialize it probes the claims' index for each prospect (95 ms for the same batch);
# with good statistics it still picks the hash and merge anti-joins it would have.
PLANNER_SETTINGS = {"enable_material": "off"}
# Counts walk every active prospect (about 0.3 s at 1M): asked for on one campaign's page
# and off the send path, not in lists.
ALL = 2_147_483_647

CAMPAIGN_AUDIENCE = """
SELECT c.audience, c.frequency_cap_days, c.include_flagged, s.rule AS segment_rule,
       s.id IS NOT NULL AS segment_found
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
    include_flagged: bool = False  # role, disposable and no-MX addresses too


@dataclass(frozen=True)
class OpenWindow:
    """First steps only to prospects whose window (of a schedule in "prospect" time) is open at `at`."""

    at: datetime
    schedule: Schedule

    def args(self) -> tuple[Any, ...]:
        s = self.schedule
        return (self.at, s.fallback_timezone, sorted(s.days), s.start, s.end)


async def audience_of(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID) -> Audience:
    row = await conn.fetchrow(CAMPAIGN_AUDIENCE, campaign_id)
    if row is None:
        return Audience()
    cap, flagged = row["frequency_cap_days"], row["include_flagged"]
    if row["audience"] is None:
        return Audience(None, cap, flagged)
    audience = dict(row["audience"])
    if "segment_id" in audience:
        if not row["segment_found"]:
            raise AudienceGone(f"campaign {campaign_id}: segment {audience['segment_id']} no longer exists")
        return Audience(row["segment_rule"], cap, flagged)
    return Audience(audience.get("rule"), cap, flagged)


def statement(
    audience: Audience, window: OpenWindow | None = None, skip_domains: Sequence[str] = ()
) -> tuple[str, tuple[Any, ...]]:
    """The batch query for this audience, and its parameters after the first three."""
    sql, args = BASE, tuple[Any, ...]()
    if not audience.include_flagged:
        # Written as "none of the flags", not "= '{}'": on a table not analysed yet the
        # planner guesses an equality keeps 0.5 % of the rows and then probes the claims
        # by campaign alone for each prospect (quadratic: 81 sends/s instead of 444 at
        # 15K claims); "not any of" it guesses keeps 99.5 %, and it probes (campaign, prospect).
        sql += f"  AND NOT p.address_flags && '{{{','.join(ADDRESS_FLAGS)}}}'::text[]\n"
    if audience.rule is not None:
        predicate: Predicate = compile_rule(audience.rule, first=4, table="p")
        sql += f"  AND {predicate.sql}\n"
        args = predicate.args
    if audience.frequency_cap_days is not None:
        sql += CAPPED.format(days=f"${4 + len(args)}::int")
        args = (*args, audience.frequency_cap_days)
    if window is not None:
        first = 4 + len(args)
        names = ("at", "fallback", "days", "opens", "closes")
        sql += IN_WINDOW.format(**{name: f"${first + i}" for i, name in enumerate(names)})
        args = (*args, *window.args())
    if skip_domains:
        sql += SKIP_DOMAINS.format(param=f"${4 + len(args)}")
        args = (*args, list(skip_domains))
    return sql + ORDER, args


async def batch(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, limit: int, after_seq: int,
    window: OpenWindow | None = None, skip_domains: Sequence[str] = (),
) -> list[asyncpg.Record]:  # fmt: skip
    sql, args = statement(await audience_of(conn, campaign_id), window, skip_domains)
    return await conn.fetch(sql, campaign_id, limit, after_seq, *args)


# Follow-ups: $1 campaign, $2 limit, $3 due at or before, $4 the campaign's plan_version;
# the audience's parameters follow. Those of a prospect who left the audience wait (and
# go if they come back); the frequency cap is for first contact, not a conversation.
DUE = """
SELECT p.id, p.seq, p.email, p.first_name, p.last_name, p.company, p.title, p.attributes, p.timezone,
       sp.next_step_id, sp.next_step, sp.message_ids, sp.thread_subject, sp.due_at
FROM sequence_progress sp JOIN prospects p ON p.id = sp.prospect_id
WHERE sp.campaign_id = $1 AND sp.due_at <= $3 AND sp.plan_version = $4
  AND p.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = $1 AND st.prospect_id = p.id)
  AND NOT EXISTS (SELECT 1 FROM email_sends es
                  WHERE es.campaign_id = $1 AND es.prospect_id = p.id AND es.step_id = sp.next_step_id
                    AND es.retried_at IS NULL)
"""
DUE_ORDER = "ORDER BY sp.due_at LIMIT $2"
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


async def due(
    conn: asyncpg.Connection | asyncpg.Pool,
    campaign_id: uuid.UUID,
    limit: int,
    *,
    until: datetime,
    version: int,
    skip_domains: Sequence[str] = (),
) -> list[asyncpg.Record]:
    """The follow-ups due by `until`, earliest first (`until` FAR_FUTURE: the next ones, however far)."""
    audience = await audience_of(conn, campaign_id)
    sql, args = DUE, tuple[Any, ...]()
    if audience.rule is not None:
        predicate: Predicate = compile_rule(audience.rule, first=5, table="p")
        sql, args = sql + f"  AND {predicate.sql}\n", predicate.args
    if skip_domains:
        sql += SKIP_DOMAINS.format(param=f"${5 + len(args)}")
        args = (*args, list(skip_domains))
    return await conn.fetch(sql + DUE_ORDER, campaign_id, limit, until, version, *args)


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


# Prospects in the sequence with a step still to come, as the campaign's steps stand now
# (shared.sequence.next_step: the step after the furthest they had, so one remains unless
# they had the last), not stopped and still reachable. What a completed campaign still owes
# when a follow-up is added to it.
FOLLOW_UPS_LEFT = """
SELECT count(*)
FROM sequence_progress sp
JOIN email_campaigns c ON c.id = sp.campaign_id
JOIN prospects p ON p.id = sp.prospect_id
WHERE sp.campaign_id = $1 AND jsonb_array_length(c.steps) > 0
  AND NOT ((c.steps -> -1 ->> 'id')::uuid = ANY(sp.steps_sent))
  AND p.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = $1 AND st.prospect_id = p.id)
"""


async def follow_ups_left(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID) -> int:
    """How many prospects the campaign's follow-ups still reach (each with one step or more)."""
    return int(await conn.fetchval(FOLLOW_UPS_LEFT, campaign_id))
