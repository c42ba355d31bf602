"""Waits, windows and start_at (shared.schedule), across weekends and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from shared.schedule import Schedule, Wait, day_start, due_at, local_instant, zone

NY, BERLIN = zone("America/New_York"), zone("Europe/Berlin")
WEEKDAYS = {"timezone": "America/New_York", "fallback_timezone": "UTC",
            "days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}  # fmt: skip


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def test_durations_parse_days_apart_from_time():
    assert Wait.parse("P2D") == Wait(2, timedelta())
    assert Wait.parse("PT4H30M") == Wait(0, timedelta(hours=4, minutes=30))
    assert Wait.parse("p1dt12h") == Wait(1, timedelta(hours=12))
    assert Wait.parse("PT48H") != Wait.parse("P2D"), "48 hours are elapsed time, 2 days are sending days"


@pytest.mark.parametrize("text", ["P1M", "P1W", "P1Y", "2 days", "P", "PT", "P1DT", "", "P400D"])
def test_durations_without_a_fixed_length_or_malformed_are_refused(text):
    with pytest.raises(ValueError):
        Wait.parse(text)


def test_unknown_zones_are_refused_with_their_name():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone("Mars/Olympus")


def test_two_days_from_friday_on_a_weekday_schedule_is_tuesday_same_time():
    schedule = Schedule.of(WEEKDAYS)
    friday = ny(2026, 12, 4, 10, 15)
    assert due_at(friday, Wait.parse("P2D"), schedule, None) == ny(2026, 12, 8, 10, 15)


def test_hours_are_elapsed_then_the_next_window_opens():
    schedule = Schedule.of(WEEKDAYS)
    # Friday 15:00 + 4 h = 19:00, after the window: Monday 09:00.
    assert due_at(ny(2026, 12, 4, 15), Wait.parse("PT4H"), schedule, None) == ny(2026, 12, 7, 9)
    # Inside the window it is due as it falls.
    assert due_at(ny(2026, 12, 7, 9), Wait.parse("PT1H"), schedule, None) == ny(2026, 12, 7, 10)


def test_without_a_schedule_days_are_24_hours_and_any_time_goes():
    sent = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    assert due_at(sent, Wait.parse("P1DT1H"), None, None) == sent + timedelta(hours=25)


def test_a_nine_oclock_start_stays_nine_across_spring_forward_and_fall_back():
    daily = Schedule.of({**WEEKDAYS, "days": ["sun", "mon"]})
    # 2026-03-08 and 2026-11-01 are the Sundays New York changes its clocks.
    spring = daily.next_open(ny(2026, 3, 8, 1, 0), NY)
    fall = daily.next_open(ny(2026, 11, 1, 0, 30), NY)
    assert spring == datetime(2026, 3, 8, 13, tzinfo=UTC), "09:00 EDT"
    assert fall == datetime(2026, 11, 1, 14, tzinfo=UTC), "09:00 EST"
    # The wall-clock wait of a day across the change is 23 or 25 hours of elapsed time.
    every_day = Schedule.of({**WEEKDAYS, "days": WEEKDAYS_ALL})
    before_spring, before_fall = ny(2026, 3, 7, 9).astimezone(UTC), ny(2026, 10, 31, 9).astimezone(UTC)
    assert due_at(before_spring, Wait.parse("P1D"), every_day, None) - before_spring == timedelta(hours=23)
    assert due_at(before_fall, Wait.parse("P1D"), every_day, None) - before_fall == timedelta(hours=25)
    # Hours are elapsed time: 09:00 EST + 24 h across the spring change is 10:00 EDT.
    assert due_at(ny(2026, 3, 7, 9), Wait.parse("PT24H"), every_day, None) == ny(2026, 3, 8, 10).astimezone(
        UTC
    )


WEEKDAYS_ALL = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def test_a_window_starting_in_the_skipped_hour_opens_when_the_clock_reaches_it():
    night = Schedule.of({**WEEKDAYS, "days": WEEKDAYS_ALL, "from": "02:30", "to": "05:00"})
    opens = night.next_open(ny(2026, 3, 8, 0, 0), NY)
    assert opens == datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "03:00 EDT, the first instant past 02:30"
    assert local_instant(ny(2026, 3, 8).date(), time(2, 30), NY) == opens
    assert not night.is_open(opens - timedelta(seconds=1), NY)
    assert night.is_open(opens, NY)


def test_a_window_over_the_repeated_hour_is_open_through_both_of_its_occurrences():
    night = Schedule.of({**WEEKDAYS, "days": WEEKDAYS_ALL, "from": "01:00", "to": "02:00"})
    first = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    assert night.next_open(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), NY) == first
    assert night.is_open(first + timedelta(minutes=59), NY)
    assert night.is_open(first + timedelta(minutes=90), NY), "01:30 EST, the second time round"
    assert not night.is_open(first + timedelta(hours=2), NY), "02:00 EST"


def test_the_end_of_day_window_and_the_start_at():
    late = Schedule.of({**WEEKDAYS, "from": "22:00", "to": "24:00", "start_at": "2026-12-09T00:00:00+00:00"})
    assert late.end is None
    assert late.is_open(ny(2026, 12, 9, 23, 59), NY)
    assert not late.is_open(ny(2026, 12, 7, 22, 30), NY), "before start_at"
    assert late.next_open(ny(2026, 12, 1, 12), NY) == ny(2026, 12, 8, 22), "start_at is 19:00 there"


def test_prospect_zones_and_their_fallback():
    local = Schedule.of({**WEEKDAYS, "timezone": "prospect", "fallback_timezone": "Europe/Berlin"})
    assert local.zone_for("America/New_York") == NY
    assert local.zone_for(None) == BERLIN
    assert local.zone_for("Not/AZone") == BERLIN
    assert local.counting_zone == zone("UTC")


def test_a_day_starts_at_local_midnight():
    assert day_start(datetime(2026, 3, 8, 12, tzinfo=UTC), NY) == ny(2026, 3, 8, 0, 0)
