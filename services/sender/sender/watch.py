"""The sender's watch: every WATCH_SECONDS it resumes the pauses that lift by themselves
(daily quota, daily cap) once their time has come and the limit allows again, and asks
again for sending campaigns whose work was lost (no lease taken, no claim, for longer
than SENDER_LEASE_SECONDS: a dead-lettered chunk, a message lost with a broker).

A resume or a request is the same event an admin's would be, so the run starts the
same way; with several sender replicas each watches, and the statements let one win.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from sender.quota import QuotaKeeper
from shared.db import DATABASE_AWAY
from shared.events import CampaignRequested, CampaignRequestedData, CampaignResumed, CampaignResumedData
from shared.lifecycle import campaign as campaigns
from shared.logging import get_logger

log = get_logger(__name__)


async def resume_due_pauses(pool: asyncpg.Pool, quota: QuotaKeeper) -> list[uuid.UUID]:
    """Resume every due self-lifting pause whose limit has room again; postpone the others."""
    due = await campaigns.due_to_resume(pool)
    if not due:
        return []
    await quota.refresh()
    resumed = []
    for row in due:
        if quota.quota.exhausted() == row["pause_reason"]:  # not over yet: look again later
            await campaigns.postpone(pool, row["id"], await quota.resumes_at(row["pause_reason"]))
            continue
        event = CampaignResumed.new(
            CampaignResumedData(campaign_id=row["id"], resumed_by="sender"),
            correlation_id=f"auto-resume-{row['id']}",
        )
        if await campaigns.resume_due(pool, event):
            log.info("a self-lifting pause lifted", campaign_id=str(row["id"]), code=row["pause_reason"])
            resumed.append(row["id"])
    return resumed


async def rerequest_lost_work(pool: asyncpg.Pool, lease_seconds: float) -> list[uuid.UUID]:
    """Ask again for every sending campaign that stalled with no live lease."""
    asked = []
    for campaign_id in await campaigns.stalled(pool, lease_seconds):
        event = CampaignRequested.new(
            CampaignRequestedData(campaign_id=campaign_id, requested_by="sender"),
            correlation_id=f"lost-work-{campaign_id}",
        )
        if await campaigns.rerequest_if_stalled(pool, event, lease_seconds):
            log.warning("a sending campaign had lost its work; asked again", campaign_id=str(campaign_id))
            asked.append(campaign_id)
    return asked


async def watch(pool: asyncpg.Pool, quota: QuotaKeeper, *, every: float, lease_seconds: float) -> None:
    """Run until cancelled; a database that is away is waited out."""
    while True:
        await asyncio.sleep(every)
        try:
            await resume_due_pauses(pool, quota)
            await rerequest_lost_work(pool, lease_seconds)
        except (asyncpg.PostgresError, *DATABASE_AWAY) as exc:
            log.warning("the sender's watch could not look; trying again", error=repr(exc))
