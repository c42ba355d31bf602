"""Keeps the sending limits current: SES GetAccount, the daily cap, and the cadence they allow."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from sender.adapters import store
from sender.adapters.ses import SesGateway
from sender.domain import Cadence, Quota, cap_resumes_at, quota_resumes_at
from sender.metrics import CONFIGURED_RATE
from shared.events import PauseCode
from shared.logging import get_logger
from shared.schedule import day_start

log = get_logger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


class QuotaKeeper:
    def __init__(
        self, ses: SesGateway, pool: asyncpg.Pool, cadence: Cadence, *, configured_rate: float,
        daily_cap: int | None, refresh_seconds: float, cap_zone: ZoneInfo,
    ) -> None:  # fmt: skip
        self._ses = ses
        self._pool = pool
        self._cadence = cadence
        self._configured_rate = configured_rate
        self._refresh_seconds = refresh_seconds
        self._refreshed_at = -float("inf")
        self._told_unknown = False
        self._lock = asyncio.Lock()
        self._cap_zone = cap_zone
        self.quota = Quota(daily_cap=daily_cap)

    async def resumes_at(self, code: PauseCode) -> datetime:
        """When a daily-limit pause should be looked at again."""
        if code == "daily_cap":
            return cap_resumes_at(now(), self._cap_zone)
        oldest = await store.oldest_send_since(self._pool, now() - timedelta(hours=24))
        return quota_resumes_at(now(), oldest)

    async def refresh_if_due(self) -> None:
        async with self._lock:
            if time.monotonic() - self._refreshed_at < self._refresh_seconds:
                return
            await self._refresh()

    async def refresh(self) -> None:
        """Read the limits now (the sender's watch, before it lifts a daily-limit pause)."""
        async with self._lock:
            await self._refresh()

    async def _refresh(self) -> None:
        try:
            reading = await self._ses.read_quota()
        except Exception as exc:  # a passing fault: keep the last known limits
            log.warning("SES GetAccount failed; keeping the last known quota", error=repr(exc))
            reading = None
            self._refreshed_at = time.monotonic() - self._refresh_seconds / 2
        else:
            self._refreshed_at = time.monotonic()
        if reading is None:
            if not self._told_unknown:
                log.info("SES quota unknown (GetAccount unavailable); sending at the configured rate")
                self._told_unknown = True
        else:
            self.quota.max_send_rate = reading.max_send_rate if reading.max_send_rate > 0 else None
            self.quota.max_24_hour_send = reading.max_24_hour_send
            self.quota.sent_last_24_hours = reading.sent_last_24_hours
        if self.quota.daily_cap is not None:
            self.quota.sent_by_us_today = await store.sent_since(self._pool, day_start(now(), self._cap_zone))
        rate = self.quota.effective_rate(self._configured_rate)
        if abs(rate - 1.0 / self._cadence.interval) > 1e-9:
            log.info("send rate set", per_second=rate, configured=self._configured_rate)
        self._cadence.set_rate(rate)
        CONFIGURED_RATE.set(rate)
