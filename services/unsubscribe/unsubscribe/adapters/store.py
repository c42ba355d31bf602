"""The unsubscribe SQL: find a send by its token; opt its prospect out, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared.event_store import change_and_append
from shared.events import ProspectUnsubscribed, ProspectUnsubscribedData

FIND = """
SELECT s.id AS send_id, s.campaign_id, s.prospect_id, p.email, p.status,
       c.from_email, c.from_name
FROM email_sends s
LEFT JOIN prospects p ON p.id = s.prospect_id
LEFT JOIN email_campaigns c ON c.id = s.campaign_id
WHERE s.unsubscribe_token = $1
"""

# Effective at once for the sender (its claim checks the status); a complained
# prospect stays complained. Only a real change appends the event.
OPT_OUT = """
UPDATE prospects SET status = 'unsubscribed', status_reason = 'unsubscribed by the recipient', updated_at = now()
WHERE id = $1 AND status IN ('active', 'bounced')
RETURNING id
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
    await change_and_append(pool, OPT_OUT, (found.prospect_id,), event)
    return found
