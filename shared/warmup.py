"""The warm-up ramp: a new sending domain's daily volume follows WARMUP_SCHEDULE (e.g. 50,
100, 200, 400 … a day) until the schedule ends or reaches the account's daily quota; then
the domain is warm. Day 1 is the day of the domain's first send (sending_domains,
migration 0028), days counted in WARMUP_TIMEZONE. A domain that sent before this table
existed starts on the day of its first recorded send, so a domain with history is warm.

The sender asks `state` as a chunk starts, counts each send against the allowance, and waits (reason `warmup`) when the
day's is used; the gateway shows the same figures. An admin may mark a domain warm, or
start its ramp again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from shared.lifecycle.domains import DOMAIN_OF
from shared.schedule import day_start

# A campaign's From is stored as typed: its domain lower-cased here.
SENDING_DOMAIN = f"lower({DOMAIN_OF})"
# The domain's row, made on its first send, dated from its first recorded send (or today).
ENSURE = f"""
INSERT INTO sending_domains (domain, first_send_on)
SELECT $1, coalesce(least(min(es.claimed_at), $2::timestamptz), $2::timestamptz) AT TIME ZONE $3
FROM email_sends es JOIN email_campaigns c ON c.id = es.campaign_id
WHERE {SENDING_DOMAIN.format(email="c.from_email")} = $1 AND es.outcome IN ('sent', 'unknown')
ON CONFLICT (domain) DO NOTHING
"""
ROW = "SELECT domain, first_send_on, warm_since, marked_by FROM sending_domains WHERE domain = $1"
ROWS = "SELECT domain, first_send_on, warm_since, marked_by FROM sending_domains ORDER BY domain"
# Sends from the domain's campaigns since $2 (the start of the day): claimed ones count,
# they may be accepted. Read through the campaigns' index, not every send of the day.
SENT_SINCE = f"""
SELECT count(*) FROM email_sends es
WHERE es.campaign_id IN (SELECT id FROM email_campaigns WHERE {SENDING_DOMAIN.format(email="from_email")} = $1)
  AND es.outcome IN ('claimed', 'sent', 'unknown') AND es.claimed_at >= $2
"""
MARK_WARM = """
INSERT INTO sending_domains AS d (domain, first_send_on, warm_since, marked_by) VALUES ($1, $2, now(), $3)
ON CONFLICT (domain) DO UPDATE SET warm_since = coalesce(d.warm_since, now()),
    marked_by = CASE WHEN d.warm_since IS NULL THEN $3 ELSE d.marked_by END, updated_at = now()
"""
RESTART = """
INSERT INTO sending_domains (domain, first_send_on, marked_by) VALUES ($1, $2, $3)
ON CONFLICT (domain) DO UPDATE SET first_send_on = $2, warm_since = NULL, marked_by = $3, updated_at = now()
"""


def parse_schedule(text: str) -> tuple[int, ...]:
    """Days' volumes from "50, 100, 200"; "off" (or nothing): no warm-up. Each at least 1."""
    if text.strip().lower() in ("off", "none"):
        return ()
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    try:
        days = tuple(int(part) for part in parts)
    except ValueError:
        raise ValueError(
            f"WARMUP_SCHEDULE is a comma-separated list of whole numbers, not {text!r}"
        ) from None
    if any(day < 1 for day in days):
        raise ValueError("WARMUP_SCHEDULE: every day's volume is at least 1")
    return days


@dataclass(frozen=True)
class Ramp:
    schedule: tuple[int, ...]
    zone: ZoneInfo

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def day_of(self, first_send_on: date, now: datetime) -> int:
        """1 on the day of the first send."""
        return (self.today(now) - first_send_on).days + 1

    def allowance(self, first_send_on: date, now: datetime, quota: float | None) -> int | None:
        """Sends the domain may make today; None: warm (the schedule is over, or reached the quota)."""
        day = self.day_of(first_send_on, now)
        if not self.schedule or day > len(self.schedule):
            return None
        allowed = self.schedule[max(day, 1) - 1]
        if quota is not None and quota > 0 and allowed >= quota:
            return None
        return allowed

    def next_day(self, now: datetime) -> datetime:
        """When the day after `now`'s begins (a DST day has 23 or 25 hours)."""
        return day_start(day_start(now, self.zone) + timedelta(days=1, hours=1), self.zone)


@dataclass(frozen=True)
class DomainState:
    domain: str
    first_send_on: date | None  # None: never sent from
    warm_since: datetime | None
    marked_by: str | None
    day: int | None
    allowance: int | None  # None: no limit today (warm, or no warm-up)
    sent_today: int

    @property
    def remaining(self) -> int | None:
        return None if self.allowance is None else max(0, self.allowance - self.sent_today)


async def state(
    conn: asyncpg.Connection | asyncpg.Pool, ramp: Ramp, domain: str, now: datetime, quota: float | None
) -> DomainState:
    """The domain's figures for today, its row made on the way (the sender's, before a send)."""
    row = await conn.fetchrow(ROW, domain)
    if row is None:
        await conn.execute(ENSURE, domain, now, ramp.zone.key)
        row = await conn.fetchrow(ROW, domain)
    return await _state_of(conn, ramp, domain, row, now, quota)


async def states(
    conn: asyncpg.Connection | asyncpg.Pool,
    ramp: Ramp,
    now: datetime,
    quota: float | None,
    extra: Sequence[str] = (),
) -> list[DomainState]:
    """Every known sending domain (and `extra`, the configured one, perhaps never sent from yet)."""
    rows = {row["domain"]: row for row in await conn.fetch(ROWS)}
    domains = sorted(set(rows) | {d.lower() for d in extra})
    return [await _state_of(conn, ramp, d, rows.get(d), now, quota) for d in domains]


async def _state_of(
    conn: asyncpg.Connection | asyncpg.Pool, ramp: Ramp, domain: str, row: asyncpg.Record | None,
    now: datetime, quota: float | None,
) -> DomainState:  # fmt: skip
    if row is None:
        first = ramp.schedule[0] if ramp.schedule else None
        return DomainState(domain, None, None, None, None, first, 0)
    warm = row["warm_since"] is not None
    allowance = None if warm else ramp.allowance(row["first_send_on"], now, quota)
    sent = 0
    if allowance is not None:
        sent = int(await conn.fetchval(SENT_SINCE, domain, day_start(now, ramp.zone)))
    day = ramp.day_of(row["first_send_on"], now)
    return DomainState(
        domain, row["first_send_on"], row["warm_since"], row["marked_by"], day, allowance, sent
    )


async def mark_warm(
    conn: asyncpg.Connection | asyncpg.Pool, ramp: Ramp, domain: str, now: datetime, actor: str
) -> None:
    """The domain is warm from now (it has a sending history elsewhere); already warm: unchanged."""
    await conn.execute(MARK_WARM, domain, ramp.today(now), actor)


async def restart(
    conn: asyncpg.Connection | asyncpg.Pool, ramp: Ramp, domain: str, now: datetime, actor: str
) -> None:
    await conn.execute(RESTART, domain, ramp.today(now), actor)
