"""When a campaign may send: waits between steps, weekly windows in a timezone, start_at.

Pure (no I/O): the gateway validates and shows with it, the sender plans with it.

- A wait (`Wait`, an ISO 8601 duration such as P2DT3H) counts its days as sending days
  of the schedule at the same wall-clock time (P2D from a Friday 10:00 with a Mon-Fri
  schedule is Tuesday 10:00), then adds its hours, minutes and seconds as elapsed time.
- A window is open on the schedule's days from `start` to `end` local time (end None:
  24:00). Local times are wall-clock times: across a DST change a 09:00 start stays
  09:00. A boundary that falls in a skipped hour (spring forward) moves to the first
  instant that exists after it; one in a repeated hour (fall back) is its first occurrence.
- No schedule: any time, and a wait's days are plain 24-hour days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROSPECT_ZONE = "prospect"  # the schedule's timezone: each prospect's own
_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
MAX_WAIT_DAYS = 365
_SEARCH_DAYS = 8  # a window opens within a week of any instant (at least one day is a sending day)


@dataclass(frozen=True)
class Wait:
    """A step's wait: `days` sending days, then `elapsed` of plain time."""

    days: int
    elapsed: timedelta

    @classmethod
    def parse(cls, text: str) -> Wait:
        """Days, hours, minutes and seconds (P2D, PT4H, P1DT12H); years, months and weeks
        are refused (their length depends on the calendar: say the days)."""
        match = _DURATION.fullmatch(text.strip().upper()) if isinstance(text, str) else None
        if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
            raise ValueError(
                f"{text!r} is not a duration this understands: use ISO 8601 days and time, e.g. P2D, PT4H, P1DT12H"
            )
        parts = {name: int(value or 0) for name, value in match.groupdict().items()}
        wait = cls(
            parts["days"], timedelta(hours=parts["hours"], minutes=parts["minutes"], seconds=parts["seconds"])
        )
        if wait.days + wait.elapsed / timedelta(days=1) > MAX_WAIT_DAYS:
            raise ValueError(f"{text!r} is longer than {MAX_WAIT_DAYS} days")
        return wait


def zone(name: str) -> ZoneInfo:
    """The IANA zone; ValueError naming it when the database has no such zone."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA timezone (e.g. Europe/Berlin, America/New_York)") from None


def is_zone_name(name: str) -> bool:
    return name in _names()


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    if name not in _names():
        raise ZoneInfoNotFoundError(name)
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(available_timezones())


def local_instant(day: date, wall: time, where: ZoneInfo) -> datetime:
    """The instant (in UTC) `wall` o'clock on `day` in `where`: its first occurrence when
    the hour repeats, the end of the gap when it was skipped. Instants are compared and
    added to in UTC only: Python does arithmetic on aware datetimes of one zone by the
    wall clock, which is wrong across a DST change."""
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    candidate = naive.replace(tzinfo=where).astimezone(UTC)
    if candidate.astimezone(where).replace(tzinfo=None) == naive:
        return candidate
    # Skipped: walk from the earlier reading of the gap to the first minute at or past it.
    instant = naive.replace(tzinfo=where, fold=1).astimezone(UTC).replace(second=0, microsecond=0)
    while instant.astimezone(where).replace(tzinfo=None) < naive:
        instant += timedelta(minutes=1)
    return instant


@dataclass(frozen=True)
class Schedule:
    timezone: str  # an IANA name, or PROSPECT_ZONE
    fallback_timezone: str
    days: frozenset[int]  # 0 is Monday
    start: time
    end: time | None  # None: the end of the day
    start_at: datetime | None = None

    @classmethod
    def of(cls, stored: dict | None) -> Schedule | None:
        """From the campaign's stored JSON (validated by the gateway)."""
        if not stored:
            return None
        start_at = stored.get("start_at")
        return cls(
            timezone=stored["timezone"],
            fallback_timezone=stored.get("fallback_timezone") or "UTC",
            days=frozenset(WEEKDAYS.index(day) for day in stored["days"]),
            start=parse_clock(stored["from"]),
            end=None if stored["to"] == "24:00" else parse_clock(stored["to"]),
            start_at=datetime.fromisoformat(start_at) if isinstance(start_at, str) else start_at,
        )

    def zone_for(self, prospect_timezone: str | None) -> ZoneInfo:
        if self.timezone != PROSPECT_ZONE:
            return zone(self.timezone)
        if prospect_timezone:
            try:
                return zone(prospect_timezone)
            except ValueError:
                pass  # validated at entry; a zone that left the database falls back
        return zone(self.fallback_timezone)

    @property
    def counting_zone(self) -> ZoneInfo:
        """Where a day starts for the daily limit: the schedule's zone, UTC with PROSPECT_ZONE."""
        return zone("UTC") if self.timezone == PROSPECT_ZONE else zone(self.timezone)

    def window_on(self, day: date, where: ZoneInfo) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.days:
            return None
        opens = local_instant(day, self.start, where)
        closes = (
            local_instant(day + timedelta(days=1), time(), where)
            if self.end is None
            else local_instant(day, self.end, where)
        )
        return (opens, closes) if closes > opens else None

    def is_open(self, instant: datetime, where: ZoneInfo) -> bool:
        instant = instant.astimezone(UTC)
        if self.start_at is not None and instant < self.start_at:
            return False
        window = self.window_on(instant.astimezone(where).date(), where)
        return window is not None and window[0] <= instant < window[1]

    def next_open(self, instant: datetime, where: ZoneInfo) -> datetime:
        """`instant` if a window is open then, else the next opening (never before start_at), in UTC."""
        instant = instant.astimezone(UTC)
        if self.start_at is not None and instant < self.start_at:
            instant = self.start_at
        today = instant.astimezone(where).date()
        for offset in range(-1, _SEARCH_DAYS):  # yesterday's window may run past midnight of a DST day
            window = self.window_on(today + timedelta(days=offset), where)
            if window is None or window[1] <= instant:
                continue
            return max(window[0], instant)
        raise ValueError("the schedule has no sending day")


def parse_clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def due_at(
    sent_at: datetime, wait: Wait, schedule: Schedule | None, prospect_timezone: str | None
) -> datetime:
    """When the step after one sent at `sent_at` may go: its wait, then the next open window."""
    sent_at = sent_at.astimezone(UTC)
    if schedule is None:
        return sent_at + timedelta(days=wait.days) + wait.elapsed
    where = schedule.zone_for(prospect_timezone)
    local = sent_at.astimezone(where)
    day, counted = local.date(), 0
    while counted < wait.days:
        day += timedelta(days=1)
        counted += day.weekday() in schedule.days
    landed = local_instant(day, local.time(), where) if wait.days else sent_at
    return schedule.next_open(landed + wait.elapsed, where)


def day_start(now: datetime, where: ZoneInfo) -> datetime:
    """The start of `now`'s day in `where` (a DST day has 23 or 25 hours)."""
    return local_instant(now.astimezone(where).date(), time(), where)
