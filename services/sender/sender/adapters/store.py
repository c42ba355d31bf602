"""The sender's own reads: whether a chunk still holds its campaign, and its daily counts.

What it writes goes through the lifecycles: `shared.lifecycle.send` (claims and
outcomes) and `shared.lifecycle.campaign` (runs, leases, cursor, status).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from shared.lifecycle.domains import DOMAIN_OF

STILL_OURS = "SELECT status = 'sending' AND sender_lease = $2 FROM email_campaigns WHERE id = $1"
# Our sends that count against a daily limit: accepted, or maybe accepted.
_COUNTED = "attempted_at >= $1 AND outcome IN ('sent', 'unknown')"


PLAN_VERSION = "SELECT plan_version FROM email_campaigns WHERE id = $1"


async def still_ours(pool: asyncpg.Pool, campaign_id: uuid.UUID, lease: uuid.UUID) -> bool:
    return bool(await pool.fetchval(STILL_OURS, campaign_id, lease))


async def plan_version(pool: asyncpg.Pool, campaign_id: uuid.UUID) -> int | None:
    """The version of the campaign's steps and schedule (None: the campaign is gone)."""
    version: int | None = await pool.fetchval(PLAN_VERSION, campaign_id)
    return version


async def sent_since(pool: asyncpg.Pool, since: datetime) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM email_sends WHERE {_COUNTED}", since))


async def oldest_send_since(pool: asyncpg.Pool, since: datetime) -> datetime | None:
    return await pool.fetchval(f"SELECT min(attempted_at) FROM email_sends WHERE {_COUNTED}", since)


# The last send to each recipient domain in the last $1 seconds, and how long ago (sender.pacing).
LAST_TO_DOMAINS = f"""
SELECT {DOMAIN_OF.format(email="p.email")} AS domain, extract(epoch FROM now() - max(es.attempted_at)) AS ago
FROM email_sends es JOIN prospects p ON p.id = es.prospect_id
WHERE es.attempted_at > now() - make_interval(secs => $1) AND es.outcome IN ('sent', 'unknown')
GROUP BY 1
"""


async def last_sends_to_domains(pool: asyncpg.Pool, within_seconds: float) -> dict[str, float]:
    """Seconds since the last send to each domain that had one in the last `within_seconds`."""
    return {row["domain"]: float(row["ago"]) for row in await pool.fetch(LAST_TO_DOMAINS, within_seconds)}
