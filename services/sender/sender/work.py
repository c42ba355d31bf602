"""What a chunk sends next: the follow-ups that are due first, then first steps, inside
the campaign's schedule and daily limit; and, when nothing may go now, when something may.

The plan of every prospect's next step (which step, when due) is made here from the
campaign's steps and schedule (shared.sequence, shared.schedule) and kept in
sequence_progress (shared.lifecycle.sequence); the statements that choose are
shared.eligibility's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from shared import eligibility
from shared.compose import Thread
from shared.footer import with_footer
from shared.lifecycle import sequence as progress
from shared.rendering import CampaignTemplates, parse_campaign
from shared.schedule import PROSPECT_ZONE, Schedule, day_start, due_at, zone
from shared.sequence import FIRST_STEP, Step, follow_up_subject, next_step, steps_of, thread_headers

PLAN_STEP = 5000
UTC_ZONE = zone("UTC")
# However soon a moment seems to come, a waiting campaign is looked at no sooner than this.
MIN_WAIT = timedelta(seconds=1)


@dataclass
class Clock:
    """The sender's time for the schedule's rules (and the time of its claims). A test
    shifts it (`offset`) to a weekend or the next day; leases keep the database's now()."""

    offset: timedelta = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass(frozen=True)
class Item:
    """One send to make: a prospect and the step they get."""

    prospect: asyncpg.Record
    step: Step
    thread: Thread | None  # follow-ups: the conversation so far

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self.prospect["id"], self.step.id

    @property
    def email(self) -> str:
        return str(self.prospect["email"])


@dataclass(frozen=True)
class CampaignPlan:
    """A chunk's view of the campaign: its steps (with their templates) and rules."""

    campaign_id: uuid.UUID
    steps: list[Step]
    templates: dict[uuid.UUID, CampaignTemplates]
    schedule: Schedule | None
    daily_new_limit: int | None
    version: int
    message_id_domain: str

    @classmethod
    def of(
        cls,
        campaign: asyncpg.Record | dict[str, Any],
        message_id_domain: str,
        postal_address: str | None = None,
    ) -> CampaignPlan:
        """Raises TemplateError (or ValueError for a stored step the gateway would refuse).
        Each step's bodies carry the compliance footer where they lack it (shared.footer)."""
        steps = steps_of(campaign)
        templates = {
            # A follow-up without a subject of its own has "Re: " + step 1's as received.
            step.id: with_footer(
                parse_campaign(step.subject or "Re:", step.body_html, step.body_text, custom_fields=None),
                postal_address,
            ).templates
            for step in steps
        }
        return cls(
            campaign["id"], steps, templates, Schedule.of(campaign["schedule"]), campaign["daily_new_limit"],
            campaign["plan_version"], message_id_domain,
        )  # fmt: skip

    @property
    def by_id(self) -> dict[uuid.UUID, Step]:
        return {step.id: step for step in self.steps}

    def zone_for(self, timezone: str | None) -> ZoneInfo:
        return self.schedule.zone_for(timezone) if self.schedule else UTC_ZONE

    @property
    def counting_zone(self) -> ZoneInfo:
        return self.schedule.counting_zone if self.schedule else UTC_ZONE


async def plan_all(pool: asyncpg.Pool, plan: CampaignPlan) -> int:
    """Plan the next step of every prospect planned for an older version (or not yet)."""
    planned = 0
    while rows := await progress.to_plan(pool, plan.campaign_id, plan.version, PLAN_STEP):
        plans = []
        for row in rows:
            step = next_step(plan.steps, row["steps_sent"])
            due = None
            if step is not None and step.wait is not None:
                due = due_at(row["last_sent_at"], step.wait, plan.schedule, row["timezone"])
            if step is None or due is None:
                plans.append(progress.Planned(row["prospect_id"], row["last_sent_at"], None, None, None))
            else:
                plans.append(
                    progress.Planned(row["prospect_id"], row["last_sent_at"], step.id, step.number, due)
                )
        await progress.set_plan(pool, plan.campaign_id, plan.version, plans)
        planned += len(rows)
    await progress.forget_stopped(pool, plan.campaign_id)
    return planned


class WorkReader:
    """Reads a chunk's batches; `now` is the sender's clock (a test moves it)."""

    def __init__(self, pool: asyncpg.Pool, plan: CampaignPlan, clock: Clock) -> None:
        self._pool = pool
        self._plan = plan
        self._clock = clock

    async def read(
        self,
        after_seq: int,
        limit: int,
        exclude: set[tuple[uuid.UUID, uuid.UUID]],
        skip_domains: Sequence[str] = (),
    ) -> list[Item]:
        """Due follow-ups (earliest first), then first steps after `after_seq`; none to
        `skip_domains` (those the chunk holds enough of already: sender.pacing)."""
        now, plan = self._clock.now(), self._plan
        items = await self._follow_ups(now, limit, exclude, skip_domains)
        # The batch in hand (`exclude`) may not be claimed yet: its first steps count against
        # the day's limit already (counted twice once claimed: this read is then short, and
        # the next one exact).
        in_hand = sum(1 for _, step_id in exclude if step_id == FIRST_STEP)
        room = min(limit - len(items), await self.first_steps_left_today(now) - in_hand)
        if room > 0 and self._first_steps_may_go(now):
            window = (
                eligibility.OpenWindow(now, plan.schedule)
                if plan.schedule and self._in_prospect_time
                else None
            )
            rows = await eligibility.batch(
                self._pool, plan.campaign_id, room, after_seq, window, skip_domains
            )
            items.extend(
                Item(row, plan.steps[0], None) for row in rows if (row["id"], FIRST_STEP) not in exclude
            )
        return items

    async def _follow_ups(
        self,
        now: datetime,
        limit: int,
        exclude: set[tuple[uuid.UUID, uuid.UUID]],
        skip_domains: Sequence[str],
    ) -> list[Item]:
        plan = self._plan
        if len(plan.steps) == 1:
            return []
        rows = await eligibility.due(
            self._pool, plan.campaign_id, limit, until=now, version=plan.version, skip_domains=skip_domains
        )
        items, closed = [], []
        by_id = plan.by_id
        for row in rows:
            if (row["id"], row["next_step_id"]) in exclude:
                continue
            zone = plan.zone_for(row["timezone"])
            if plan.schedule is not None and not plan.schedule.is_open(now, zone):
                closed.append((row["id"], plan.schedule.next_open(now, zone)))
                continue
            step = by_id[row["next_step_id"]]  # the plan's version is the campaign's: the step exists
            subject = None if step.subject else follow_up_subject(row["thread_subject"])
            items.append(
                Item(row, step, Thread(subject, thread_headers(row["message_ids"], plan.message_id_domain)))
            )
        if closed:  # the window closed on them while they waited: due when it opens again
            await progress.postpone(self._pool, plan.campaign_id, closed)
        return items

    def may_go(self, item: Item, now: datetime) -> bool:
        """Whether the schedule lets `item` go at `now`: a batch read in an open window is
        sent at the cadence, and the window may close before its last send comes up."""
        schedule = self._plan.schedule
        return schedule is None or schedule.is_open(now, self._plan.zone_for(item.prospect["timezone"]))

    async def put_off(self, items: list[Item], now: datetime) -> None:
        """Items the window closed on before their turn: a follow-up is due again when its
        window opens (a first step stays eligible; reads skip it while its window is shut)."""
        schedule = self._plan.schedule
        if schedule is None:
            return
        due = [
            (item.prospect["id"], schedule.next_open(now, self._plan.zone_for(item.prospect["timezone"])))
            for item in items
            if item.step.id != FIRST_STEP
        ]
        if due:
            await progress.postpone(self._pool, self._plan.campaign_id, due)

    @property
    def _in_prospect_time(self) -> bool:
        return self._plan.schedule is not None and self._plan.schedule.timezone == PROSPECT_ZONE

    def _first_steps_may_go(self, now: datetime) -> bool:
        schedule = self._plan.schedule
        if schedule is None:
            return True
        if schedule.start_at is not None and now < schedule.start_at:
            return False
        return self._in_prospect_time or schedule.is_open(now, schedule.zone_for(None))

    async def first_steps_left_today(self, now: datetime) -> int:
        limit = self._plan.daily_new_limit
        if limit is None:
            return 1 << 30
        zone = self._plan.counting_zone
        started = await self._pool.fetchval(FIRST_STEPS_SINCE, self._plan.campaign_id, day_start(now, zone))
        return max(0, limit - int(started))

    async def next_moment(self) -> datetime | None:
        """When anything may go next; None when nothing is left (the campaign completes).
        Asked when a read found nothing to send now."""
        now, plan = self._clock.now(), self._plan
        moments = []
        following = await eligibility.due(
            self._pool, plan.campaign_id, 1, until=eligibility.FAR_FUTURE, version=plan.version
        )
        if following:
            moments.append(following[0]["due_at"])
        if await eligibility.batch(self._pool, plan.campaign_id, 1, 0):
            moments.append(await self._first_steps_next(now))
        if not moments:
            return None
        return max(min(moments), now + MIN_WAIT)

    async def _first_steps_next(self, now: datetime) -> datetime:
        schedule = self._plan.schedule
        start = now
        if await self.first_steps_left_today(now) == 0:
            zone = self._plan.counting_zone
            start = day_start(now, zone) + timedelta(days=1, hours=1)  # past a DST day's 25 hours
            start = day_start(start, zone)
        if schedule is None:
            return start
        if not self._in_prospect_time:
            return schedule.next_open(start, schedule.zone_for(None))
        return min(schedule.next_open(start, schedule.zone_for(zone)) for zone in await self._zones())

    async def _zones(self) -> list[str | None]:
        """The timezones of the prospects a first step may still reach."""
        sql, args = eligibility.statement(await eligibility.audience_of(self._pool, self._plan.campaign_id))
        rows = await self._pool.fetch(
            f"SELECT DISTINCT timezone FROM ({sql}) e", self._plan.campaign_id, eligibility.ALL, 0, *args
        )
        return [row["timezone"] for row in rows] or [None]


FIRST_STEPS_SINCE = (
    "SELECT count(*) FROM email_sends WHERE campaign_id = $1 AND step = 1 AND claimed_at >= $2"
)
