"""Keeps the sending limits current: SES GetAccount, the daily cap, and the cadence they allow."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from sender.adapters import store
from sender.adapters.ses import SesGateway
from sender.domain import Cadence, Quota
from sender.metrics import CONFIGURED_RATE
from shared.logging import get_logger

log = get_logger(__name__)


class QuotaKeeper:
    def __init__(
        self, ses: SesGateway, pool: asyncpg.Pool, cadence: Cadence, *, configured_rate: float,
        daily_cap: int | None, refresh_seconds: float,
    ) -> None:  # fmt: skip
        self._ses = ses
        self._pool = pool
        self._cadence = cadence
        self._configured_rate = configured_rate
        self._refresh_seconds = refresh_seconds
        self._refreshed_at = -float("inf")
        self._told_unknown = False
        self._lock = asyncio.Lock()
        self.quota = Quota(daily_cap=daily_cap)

    async def refresh_if_due(self) -> None:
        async with self._lock:
            if time.monotonic() - self._refreshed_at < self._refresh_seconds:
                return
            await self.refresh()

    async def refresh(self) -> None:
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
            self.quota.sent_by_us_last_24_hours = await store.sent_last_24_hours(self._pool)
        rate = self.quota.effective_rate(self._configured_rate)
        if abs(rate - 1.0 / self._cadence.interval) > 1e-9:
            log.info("send rate set", per_second=rate, configured=self._configured_rate)
        self._cadence.set_rate(rate)
        CONFIGURED_RATE.set(rate)
