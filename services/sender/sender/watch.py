"""The sender's watch: every WATCH_SECONDS it resumes the pauses that lift by themselves
(daily quota, daily cap) once their time has come and the limit allows again, and asks
again for sending campaigns whose work was lost (no lease taken, no claim, for longer
than SENDER_LEASE_SECONDS: a dead-lettered chunk, a message lost with a broker), and keeps
SES's safety nets in step (sender.safety_nets: the kill switch, the suppression list).

A campaign waiting for its next moment (a follow-up's due time, the schedule's next
window) is asked for again at that moment: the watch sleeps until the earliest one, or
until a run ends waiting or an edit of a sequence is notified (WAKE_CHANNEL); it never
polls the campaigns' prospects.

A resume or a request is the same event an admin's would be, so the run starts the
same way; with several sender replicas each watches, and the statements let one win.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from sender.quota import QuotaKeeper
from sender.safety_nets import SafetyNets
from sender.work import Clock
from shared.db import DATABASE_AWAY
from shared.events import CampaignRequested, CampaignRequestedData, CampaignResumed, CampaignResumedData
from shared.lifecycle import campaign as campaigns
from shared.logging import get_logger
from shared.waiting import wait_until_set

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


async def wake_waiting(pool: asyncpg.Pool, clock: Clock) -> tuple[list[uuid.UUID], datetime | None]:
    """Ask again for every waiting campaign whose moment has come; answers those asked
    for, and the earliest moment still ahead."""
    now, woken, ahead = clock.now(), [], []
    for row in await campaigns.waiting(pool):
        if row["next_send_at"] > now:
            ahead.append(row["next_send_at"])
            continue
        event = CampaignRequested.new(
            CampaignRequestedData(campaign_id=row["id"], requested_by="sender"),
            correlation_id=f"wake-{row['id']}",
        )
        if await campaigns.wake(pool, event, now):
            woken.append(row["id"])
    return woken, min(ahead, default=None)


class Listener:
    """LISTEN on WAKE_CHANNEL on a connection of its own, set `changed` on a notice;
    taken again after the database went away (meanwhile the watch still looks every WATCH_SECONDS)."""

    def __init__(self, pool: asyncpg.Pool, changed: asyncio.Event) -> None:
        self._pool = pool
        self._changed = changed
        self._conn: Any = None

    async def ensure(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        await self.close()
        self._conn = await self._pool.acquire()
        await self._conn.add_listener(campaigns.WAKE_CHANNEL, self._notified)

    def _notified(self, *_: object) -> None:
        self._changed.set()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(campaigns.WAKE_CHANNEL, self._notified)
            with contextlib.suppress(Exception):
                await self._pool.release(conn)


async def watch(
    pool: asyncpg.Pool, quota: QuotaKeeper, *, every: float, lease_seconds: float, clock: Clock | None = None,
    changed: asyncio.Event | None = None, nets: SafetyNets | None = None,
) -> None:  # fmt: skip
    """Run until cancelled; a database that is away is waited out."""
    clock = clock or Clock()
    changed = changed or asyncio.Event()
    listener = Listener(pool, changed)
    try:
        while True:
            delay = every
            try:
                await listener.ensure()
                await resume_due_pauses(pool, quota)
                await rerequest_lost_work(pool, lease_seconds)
                if nets is not None:
                    await nets.look()
                _, earliest = await wake_waiting(pool, clock)
                if earliest is not None:
                    delay = min(every, max(0.01, (earliest - clock.now()).total_seconds()))
            except (asyncpg.PostgresError, *DATABASE_AWAY) as exc:
                log.warning("the sender's watch could not look; trying again", error=repr(exc))
            await wait_until_set(changed, delay)
            changed.clear()
    finally:
        await listener.close()
