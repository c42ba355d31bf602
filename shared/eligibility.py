"""Who a campaign still reaches: one definition, the SQL function eligible_prospects()
(infra/migrations/0001): active, not suppressed, not yet claimed for the campaign.
The sender walks it in batches; the gateway and the operator count it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

# A keyset walk by prospects.seq: a batch costs the same at 1M rows as at 1K.
BATCH = "SELECT * FROM eligible_prospects($1, $2, $3)"
# The same function, inlined into a count. It walks every active prospect (about
# 0.3 s at 1M): asked for on one campaign's page and off the send path, not in lists.
COUNT = "SELECT count(*) FROM eligible_prospects($1, 2147483647, 0)"


async def batch(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, limit: int, after_seq: int
) -> list[asyncpg.Record]:
    return await conn.fetch(BATCH, campaign_id, limit, after_seq)


async def count(conn: Any, campaign_id: uuid.UUID) -> int:
    return int(await conn.fetchval(COUNT, campaign_id))
