"""What the admin reads about one campaign: its sends, their events over time, the opt-outs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

# The shown status: the projector's (from every fact it has seen), else the
# sender's own outcome while no event has been projected yet (`claimed`...).
# The search matches part of the address: strpos, so % and _ are plain text. A send
# the admin retried shows as its retry (the new send), not twice.
_MATCHING_SENDS = """
FROM email_sends s
LEFT JOIN send_status st ON st.send_id = s.id
LEFT JOIN prospects p ON p.id = s.prospect_id
WHERE s.campaign_id = $1 AND s.retried_at IS NULL
  AND ($2::text IS NULL OR strpos(lower(p.email), lower($2)) > 0)
  AND ($3::text IS NULL OR COALESCE(st.status, s.outcome) = $3)
"""
SENDS = f"""
SELECT s.id AS send_id, s.prospect_id, p.email, p.first_name, p.last_name,
       COALESCE(st.status, s.outcome) AS status, COALESCE(st.error, s.error_message) AS error,
       s.attempted_at, st.delivered_at, st.opened_at, st.clicked_at, st.bounced_at, st.complained_at,
       st.unsubscribed_at, count(*) OVER () AS total
{_MATCHING_SENDS}
ORDER BY s.attempted_at DESC NULLS LAST, s.id DESC
LIMIT $4 OFFSET $5
"""
COUNT_SENDS = f"SELECT count(*) {_MATCHING_SENDS}"

# One row per (bucket, kind) for every fact time a send has.
TIMELINE = """
SELECT date_bin($2::interval, t.at, timestamptz '2000-01-01') AS bucket, t.kind, count(*) AS n
FROM send_status st
CROSS JOIN LATERAL (VALUES ('sent', st.sent_at), ('delivered', st.delivered_at), ('opened', st.opened_at),
                           ('clicked', st.clicked_at), ('bounced', st.bounced_at),
                           ('complained', st.complained_at), ('unsubscribed', st.unsubscribed_at)) AS t(kind, at)
WHERE st.campaign_id = $1 AND t.at IS NOT NULL
GROUP BY 1, 2
ORDER BY 1
"""
SPAN = """
SELECT min(sent_at),
       max(GREATEST(sent_at, delivered_at, opened_at, clicked_at, bounced_at, complained_at, unsubscribed_at))
FROM send_status WHERE campaign_id = $1
"""
BUCKETS = (10, 60, 300, 900, 3600, 6 * 3600, 86_400)  # seconds
MAX_POINTS = 120

# Bounces (permanent: the prospect is out), complaints and unsubscribes, newest first.
# A complaint also writes an unsubscribes row; it is listed once, as the complaint.
FEEDBACK = """
SELECT * FROM (
    SELECT 'bounce' AS kind, p.email, st.bounced_at AS at, st.error AS reason, st.send_id
    FROM send_status st LEFT JOIN prospects p ON p.id = st.prospect_id
    WHERE st.campaign_id = $1 AND st.bounced_at IS NOT NULL
    UNION ALL
    SELECT 'complaint', p.email, st.complained_at, st.error, st.send_id
    FROM send_status st LEFT JOIN prospects p ON p.id = st.prospect_id
    WHERE st.campaign_id = $1 AND st.complained_at IS NOT NULL
    UNION ALL
    SELECT 'unsubscribe', p.email, u.created_at,
           CASE u.source WHEN 'one_click' THEN 'one-click from the mail client'
                         WHEN 'form' THEN 'the unsubscribe page' ELSE u.source END
           || COALESCE(': ' || u.reason, ''), u.send_id
    FROM unsubscribes u LEFT JOIN prospects p ON p.id = u.prospect_id
    WHERE u.campaign_id = $1 AND u.source <> 'complaint'
) f
ORDER BY at DESC
LIMIT $2
"""


async def sends(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, *, search: str | None, status: str | None,
    limit: int, offset: int,
) -> tuple[list[asyncpg.Record], int]:  # fmt: skip
    rows = await conn.fetch(SENDS, campaign_id, search, status, limit, offset)
    if rows:
        return rows, int(rows[0]["total"])
    if offset == 0:
        return [], 0
    # A page past the end: still tell the total.
    return [], int(await conn.fetchval(COUNT_SENDS, campaign_id, search, status))


def bucket_for(span: timedelta) -> int:
    """The smallest bucket that draws the span in at most MAX_POINTS points."""
    seconds = span.total_seconds()
    return next((b for b in BUCKETS if seconds / b <= MAX_POINTS), BUCKETS[-1])


async def timeline(conn: asyncpg.Connection, campaign_id: uuid.UUID) -> tuple[int, list[asyncpg.Record]]:
    first, last = await conn.fetchrow(SPAN, campaign_id)
    if first is None or last is None:
        return BUCKETS[0], []
    bucket = bucket_for(last - first)
    return bucket, await conn.fetch(TIMELINE, campaign_id, timedelta(seconds=bucket))


async def feedback(conn: asyncpg.Connection, campaign_id: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(FEEDBACK, campaign_id, limit)


# Per sending domain and UTC day of the last $1 days (and at least the last 7): the sends,
# their permanent bounces and complaints, and the same for the sends of the last 24 hours
# and 7 days (a rolling window, not calendar days).
REPUTATION = """
SELECT lower(split_part(c.from_email, '@', 2)) AS domain, date_trunc('day', s.sent_at, 'UTC')::date AS day,
       count(*) AS sent, count(s.bounced_at) AS bounced, count(s.complained_at) AS complained,
       count(*) FILTER (WHERE s.sent_at >= now() - interval '24 hours') AS sent_24h,
       count(s.bounced_at) FILTER (WHERE s.sent_at >= now() - interval '24 hours') AS bounced_24h,
       count(s.complained_at) FILTER (WHERE s.sent_at >= now() - interval '24 hours') AS complained_24h,
       count(*) FILTER (WHERE s.sent_at >= now() - interval '7 days') AS sent_7d,
       count(s.bounced_at) FILTER (WHERE s.sent_at >= now() - interval '7 days') AS bounced_7d,
       count(s.complained_at) FILTER (WHERE s.sent_at >= now() - interval '7 days') AS complained_7d,
       -- one of the $1 days asked for (the others were read for the 7-day window only)
       bool_and(s.sent_at >= date_trunc('day', now(), 'UTC') - make_interval(days => $1 - 1)) AS asked
FROM send_status s JOIN email_campaigns c ON c.id = s.campaign_id
WHERE s.sent_at >= least(now() - interval '7 days',
                         date_trunc('day', now(), 'UTC') - make_interval(days => $1 - 1))
GROUP BY 1, 2
ORDER BY 1, 2
"""


async def reputation(conn: asyncpg.Connection, days: int) -> list[asyncpg.Record]:
    return await conn.fetch(REPUTATION, days)
