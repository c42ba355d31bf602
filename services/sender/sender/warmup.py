"""The warm-up ramp on the send path (shared.warmup): each campaign's sending domain gets
the day's allowance; a send is counted before it starts (like the quota), and a campaign
whose domain has used the day's waits until the next day (reason `warmup`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from shared import warmup


@dataclass
class _Today:
    day: date
    allowance: int | None
    counted: int


class WarmupGuard:
    def __init__(self, pool: asyncpg.Pool, ramp: warmup.Ramp | None) -> None:
        self._pool = pool
        self.ramp = ramp if ramp is not None and ramp.schedule else None
        self._domains: dict[str, _Today] = {}

    async def begin(self, domain: str, now: datetime, quota: float | None) -> bool:
        """Read the domain's figures for today (a chunk starts); False: today's allowance is used."""
        if self.ramp is None:
            return True
        state = await warmup.state(self._pool, self.ramp, domain, now, quota)
        self._domains[domain] = _Today(self.ramp.today(now), state.allowance, state.sent_today)
        return state.remaining != 0

    def try_reserve(self, domain: str, now: datetime) -> bool:
        today = self._limited(domain)
        if today is None:
            return True
        if self.used_today(domain, now) or today.day != self._day(now):
            return False  # a new day is read at the next chunk's start
        today.counted += 1
        return True

    def used_today(self, domain: str, now: datetime) -> bool:
        """Whether the domain's allowance for the day of `now` is used (not: a new day began)."""
        today = self._limited(domain)
        return today is not None and today.day == self._day(now) and today.counted >= (today.allowance or 0)

    def unreserve(self, domain: str) -> None:
        if (today := self._limited(domain)) is not None:
            today.counted -= 1

    def _limited(self, domain: str) -> _Today | None:
        """The domain's figures when a warm-up limits it today (read by `begin`)."""
        today = self._domains.get(domain)
        return today if self.ramp is not None and today is not None and today.allowance is not None else None

    def _day(self, now: datetime) -> date:
        assert self.ramp is not None
        return self.ramp.today(now)
