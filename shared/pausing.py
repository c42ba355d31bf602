"""Pausing a sending campaign: one rule for every service that may stop one.

Only a campaign that is `sending` pauses (a draft, a completed or an already
paused one is left as it is), and each pause appends its CampaignPaused event
in the caller's transaction.
"""

from __future__ import annotations

import uuid

import asyncpg

from shared.event_store import append
from shared.events import CampaignPaused, CampaignPausedData, Envelope

PAUSE = """
UPDATE email_campaigns SET status = 'paused', status_reason = $1, updated_at = now()
WHERE status = 'sending' AND ($2::uuid IS NULL OR id = $2)
RETURNING id
"""


async def pause_sending(
    conn: asyncpg.Connection,
    reason: str,
    *,
    by: str,
    cause: Envelope,
    campaign_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Pause `campaign_id` (or every sending campaign) if sending; returns those paused."""
    paused = [row["id"] for row in await conn.fetch(PAUSE, reason, campaign_id)]
    await append(
        conn,
        *(
            CampaignPaused.new(CampaignPausedData(campaign_id=id_, reason=reason, paused_by=by), cause=cause)
            for id_ in paused
        ),
    )
    return paused
