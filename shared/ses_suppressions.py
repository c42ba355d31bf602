"""Keeping SES's account-level suppression list and ours in step (ses_suppression_pushes,
migration 0028).

Ours to SES: every prospect we hold as bounced or complained (a permanent bounce or a
complaint SES told us of, or an earlier sync) is put on the SES list once
(PutSuppressedDestination), by the sender, which holds the SES client; SES's own
automatic suppression may have added it already, and the call is an upsert.
SES to ours: `outreach suppressions sync` pages ListSuppressedDestinations and suppresses
every address it lists (shared.lifecycle.prospect.suppress_from_ses).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import asyncpg

from shared.events import ProspectStatus

SesReason = Literal["BOUNCE", "COMPLAINT"]
REASON_OF_STATUS: dict[str, SesReason] = {"bounced": "BOUNCE", "complained": "COMPLAINT"}
STATUS_OF_REASON: dict[str, ProspectStatus] = {"BOUNCE": "bounced", "COMPLAINT": "complained"}

# Bounced and complained prospects not on the SES list yet (the partial status index).
PENDING = """
SELECT p.id, p.email, p.status FROM prospects p
WHERE p.status IN ('bounced', 'complained')
  AND NOT EXISTS (SELECT 1 FROM ses_suppression_pushes x WHERE x.prospect_id = p.id)
ORDER BY p.id LIMIT $1
"""
PUSHED = """
INSERT INTO ses_suppression_pushes (prospect_id, reason)
SELECT id, r FROM unnest($1::uuid[], $2::text[]) AS u (id, r)
WHERE EXISTS (SELECT 1 FROM prospects p WHERE p.id = u.id)
ON CONFLICT (prospect_id) DO NOTHING
"""


@dataclass(frozen=True)
class Pending:
    prospect_id: uuid.UUID
    email: str
    reason: SesReason


async def pending(conn: asyncpg.Connection | asyncpg.Pool, limit: int) -> list[Pending]:
    rows = await conn.fetch(PENDING, limit)
    return [Pending(row["id"], row["email"], REASON_OF_STATUS[row["status"]]) for row in rows]


async def record_pushed(conn: asyncpg.Connection | asyncpg.Pool, pushed: list[Pending]) -> None:
    if pushed:
        await conn.execute(PUSHED, [p.prospect_id for p in pushed], [p.reason for p in pushed])
