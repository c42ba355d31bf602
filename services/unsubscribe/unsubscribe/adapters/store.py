"""The unsubscribe service's reads: a send by its token. The opt-out is shared.lifecycle.prospect's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared.events import ProspectUnsubscribed, ProspectUnsubscribedData
from shared.lifecycle import prospect as prospects

FIND = """
SELECT s.id AS send_id, s.campaign_id, s.prospect_id, p.email, p.status,
       c.from_email, c.from_name
FROM email_sends s
LEFT JOIN prospects p ON p.id = s.prospect_id
LEFT JOIN email_campaigns c ON c.id = s.campaign_id
WHERE s.unsubscribe_token = $1
"""


@dataclass(frozen=True)
class Subscription:
    send_id: uuid.UUID
    campaign_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    email: str | None
    status: str | None
    sender: str | None


async def find(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Subscription | None:
    row = await conn.fetchrow(FIND, token)
    if row is None:
        return None
    sender = f"{row['from_name']} <{row['from_email']}>" if row["from_name"] else row["from_email"]
    return Subscription(
        row["send_id"], row["campaign_id"], row["prospect_id"], row["email"], row["status"], sender
    )


async def opt_out(pool: asyncpg.Pool, token: str, *, source: str, correlation_id: str) -> Subscription | None:
    """Unsubscribe the token's prospect (idempotent). None for an unknown token.

    Two round trips, no transaction: a token's send and prospect never change,
    and the opt-out with its event is one statement."""
    found = await find(pool, token)
    if found is None or found.prospect_id is None:
        return found
    event = ProspectUnsubscribed.new(
        ProspectUnsubscribedData(
            prospect_id=found.prospect_id, send_id=found.send_id, campaign_id=found.campaign_id, source=source
        ),
        correlation_id=correlation_id,
    )
    await prospects.opt_out(pool, event)
    return found
