"""The daylight-saving rule (DESIGN §3) on real transitions, expected values written by hand.

Each row: zone, schedule, the instant to start after, and the next fire times as local ISO
strings with their offsets. Fixed-time jobs (minute and hour do not start with "*") run once
when their wall time is skipped (at the jump) or repeated (the first time); other jobs run
at every wall time that exists, as often as it exists.

Transitions used (2024):
  America/New_York     Mar 10 02:00 -05 -> 03:00 -04     Nov 3 02:00 -04 -> 01:00 -05
  Europe/London        Mar 31 01:00 +00 -> 02:00 +01     Oct 27 02:00 +01 -> 01:00 +00
  Australia/Lord_Howe  Oct 6 02:00 +10:30 -> 02:30 +11   Apr 7 02:00 +11 -> 01:30 +10:30
  America/Santiago     Sep 8 00:00 -04 -> 01:00 -03      Apr 7 00:00 -03 -> Apr 6 23:00 -04
  America/Havana       Mar 10 00:00 -05 -> 01:00 -04     Nov 3 01:00 -04 -> 00:00 -05
  Pacific/Chatham      Sep 29 02:45 +12:45 -> 03:45 +13:45   Apr 7 03:45 +13:45 -> 02:45 +12:45
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronpy.schedule import count_between, fires_at, next_times, parse_schedule, previous_fire

NY = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"
HAVANA = "America/Havana"
CHATHAM = "Pacific/Chatham"

CASES = [
    # --- New York, spring forward: 02:00-02:59 on Mar 10 does not exist
    (
        NY,
        "30 2 * * *",
        "2024-03-08T12:00-05:00",
        ["2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
    ),
    (
        NY,
        "0,30 2 * * *",
        "2024-03-09T12:00-05:00",  # two skipped times, one run
        ["2024-03-10T03:00:00-04:00", "2024-03-11T02:00:00-04:00", "2024-03-11T02:30:00-04:00"],
    ),
    (
        NY,
        "0,30 2-3 * * *",
        "2024-03-10T01:45-05:00",  # 03:00 is the jump instant too: one run
        ["2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00", "2024-03-11T02:00:00-04:00"],
    ),
    (
        NY,
        "*/15 2 * * *",
        "2024-03-09T23:00-05:00",  # not fixed: nothing that day, no catch-up
        ["2024-03-11T02:00:00-04:00", "2024-03-11T02:15:00-04:00", "2024-03-11T02:30:00-04:00"],
    ),
    (NY, "* 2 * * *", "2024-03-10T01:59-05:00", ["2024-03-11T02:00:00-04:00"]),
    (
        NY,
        "*/30 * * * *",
        "2024-03-10T01:00-05:00",
        ["2024-03-10T01:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00"],
    ),
    (
        NY,
        "@hourly",
        "2024-03-10T00:30-05:00",
        ["2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"],
    ),
    (NY, "30 2 * * *", "2024-03-10T01:59:59-05:00", ["2024-03-10T03:00:00-04:00"]),
    (
        NY,
        "30 2 * * *",
        "2024-03-10T03:00:00-04:00",  # exactly at the jump: strictly after
        ["2024-03-11T02:30:00-04:00"],
    ),
    (
        NY,
        "0 30 2 * * *",
        "2024-03-09T12:00-05:00",  # 6 fields, seconds first
        ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
    ),
    # --- New York, fall back: 01:00-01:59 on Nov 3 happens twice
    (
        NY,
        "30 1 * * *",
        "2024-11-02T12:00-04:00",
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
    ),
    (
        NY,
        "30 1 * * *",
        "2024-11-03T01:10-04:00",  # starting in the first pass
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
    ),
    (
        NY,
        "30 1 * * *",
        "2024-11-03T01:10-05:00",  # starting in the second pass: ran already
        ["2024-11-04T01:30:00-05:00"],
    ),
    (
        NY,
        "0 1 * * *",
        "2024-11-03T01:00:00-05:00",  # exactly at the fall-back instant
        ["2024-11-04T01:00:00-05:00"],
    ),
    (
        NY,
        "0 2 * * *",
        "2024-11-02T12:00-04:00",  # 02:00 happens once, after the repeat
        ["2024-11-03T02:00:00-05:00", "2024-11-04T02:00:00-05:00"],
    ),
    (
        NY,
        "*/30 * * * *",
        "2024-11-03T00:40-04:00",
        [
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:30:00-05:00",
            "2024-11-03T02:00:00-05:00",
        ],
    ),
    (
        NY,
        "*/15 1 * * *",
        "2024-11-03T00:00-04:00",
        [
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:15:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T01:45:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:15:00-05:00",
            "2024-11-03T01:30:00-05:00",
            "2024-11-03T01:45:00-05:00",
            "2024-11-04T01:00:00-05:00",
        ],
    ),
    (
        NY,
        "*/20 * * * *",
        "2024-11-03T01:50-04:00",  # first pass: the repeat comes next
        [
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:20:00-05:00",
            "2024-11-03T01:40:00-05:00",
            "2024-11-03T02:00:00-05:00",
        ],
    ),
    (
        NY,
        "*/20 * * * *",
        "2024-11-03T01:30-05:00",
        ["2024-11-03T01:40:00-05:00", "2024-11-03T02:00:00-05:00"],
    ),
    (
        NY,
        "*/30 * * * *",
        "2024-11-03T01:00:00-05:00",
        ["2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00"],
    ),
    (
        NY,
        "@hourly",
        "2024-11-03T00:30-04:00",
        ["2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00", "2024-11-03T02:00:00-05:00"],
    ),
    (
        NY,
        "@daily",
        "2024-11-02T12:00-04:00",
        ["2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"],
    ),
    # --- London
    (
        LONDON,
        "30 1 * * *",
        "2024-03-30T12:00+00:00",
        ["2024-03-31T02:00:00+01:00", "2024-04-01T01:30:00+01:00"],
    ),
    (
        LONDON,
        "*/30 * * * *",
        "2024-03-31T00:40+00:00",
        ["2024-03-31T02:00:00+01:00", "2024-03-31T02:30:00+01:00"],
    ),
    (
        LONDON,
        "30 1 * * *",
        "2024-10-26T12:00+01:00",
        ["2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00+00:00"],
    ),
    (
        LONDON,
        "*/30 1 * * *",
        "2024-10-27T00:45+01:00",
        [
            "2024-10-27T01:00:00+01:00",
            "2024-10-27T01:30:00+01:00",
            "2024-10-27T01:00:00+00:00",
            "2024-10-27T01:30:00+00:00",
            "2024-10-28T01:00:00+00:00",
        ],
    ),
    # --- Lord Howe: 30-minute shifts
    (
        LORD_HOWE,
        "15 2 * * *",
        "2024-10-05T12:00+10:30",
        ["2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"],
    ),
    (
        LORD_HOWE,
        "*/15 2 * * *",
        "2024-10-06T01:00+10:30",
        ["2024-10-06T02:30:00+11:00", "2024-10-06T02:45:00+11:00", "2024-10-07T02:00:00+11:00"],
    ),
    (
        LORD_HOWE,
        "45 1 * * *",
        "2024-04-06T12:00+11:00",
        ["2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"],
    ),
    (
        LORD_HOWE,
        "*/15 1 * * *",
        "2024-04-07T01:20+11:00",
        [
            "2024-04-07T01:30:00+11:00",
            "2024-04-07T01:45:00+11:00",
            "2024-04-07T01:30:00+10:30",
            "2024-04-07T01:45:00+10:30",
            "2024-04-08T01:00:00+10:30",
        ],
    ),
    (
        LORD_HOWE,
        "0 2 * * *",
        "2024-04-06T12:00+11:00",
        ["2024-04-07T02:00:00+10:30", "2024-04-08T02:00:00+10:30"],
    ),
    # --- Santiago: the change happens at midnight
    (
        SANTIAGO,
        "0 0 * * *",
        "2024-09-07T12:00-04:00",  # midnight is skipped: run at 01:00
        ["2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"],
    ),
    (
        SANTIAGO,
        "0 0 * * *",
        "2024-04-05T12:00-03:00",  # clocks go back to 23:00 the day before
        ["2024-04-06T00:00:00-03:00", "2024-04-07T00:00:00-04:00", "2024-04-08T00:00:00-04:00"],
    ),
    (
        SANTIAGO,
        "30 23 * * *",
        "2024-04-06T12:00-03:00",
        ["2024-04-06T23:30:00-03:00", "2024-04-07T23:30:00-04:00"],
    ),
    (
        SANTIAGO,
        "*/30 23 * * *",
        "2024-04-06T22:45-03:00",
        [
            "2024-04-06T23:00:00-03:00",
            "2024-04-06T23:30:00-03:00",
            "2024-04-06T23:00:00-04:00",
            "2024-04-06T23:30:00-04:00",
            "2024-04-07T23:00:00-04:00",
        ],
    ),
    # --- Havana: midnight skipped in spring, repeated in autumn
    (
        HAVANA,
        "0 0 * * *",
        "2024-03-09T12:00-05:00",
        ["2024-03-10T01:00:00-04:00", "2024-03-11T00:00:00-04:00"],
    ),
    (
        HAVANA,
        "0 0 * * *",
        "2024-11-02T12:00-04:00",
        ["2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"],
    ),
    (
        HAVANA,
        "30 0 * * *",
        "2024-11-02T12:00-04:00",
        ["2024-11-03T00:30:00-04:00", "2024-11-04T00:30:00-05:00"],
    ),
    (
        HAVANA,
        "@hourly",
        "2024-11-02T23:30-04:00",
        ["2024-11-03T00:00:00-04:00", "2024-11-03T00:00:00-05:00", "2024-11-03T01:00:00-05:00"],
    ),
    # --- Chatham: +12:45 / +13:45, changes at 02:45 and 03:45
    (
        CHATHAM,
        "0 3 * * *",
        "2024-09-28T12:00+12:45",
        ["2024-09-29T03:45:00+13:45", "2024-09-30T03:00:00+13:45"],
    ),
    (
        CHATHAM,
        "*/30 * * * *",
        "2024-09-29T02:20+12:45",
        ["2024-09-29T02:30:00+12:45", "2024-09-29T04:00:00+13:45"],
    ),
    (
        CHATHAM,
        "0 3 * * *",
        "2024-04-06T12:00+13:45",
        ["2024-04-07T03:00:00+13:45", "2024-04-08T03:00:00+12:45"],
    ),
    (
        CHATHAM,
        "*/30 * * * *",
        "2024-04-07T02:40+13:45",
        [
            "2024-04-07T03:00:00+13:45",
            "2024-04-07T03:30:00+13:45",
            "2024-04-07T03:00:00+12:45",
            "2024-04-07T03:30:00+12:45",
            "2024-04-07T04:00:00+12:45",
        ],
    ),
    # --- zones without daylight saving
    (
        "Asia/Tokyo",
        "30 2 * * *",
        "2024-03-09T12:00+09:00",
        ["2024-03-10T02:30:00+09:00", "2024-03-11T02:30:00+09:00"],
    ),
    (
        "UTC",
        "*/30 1 * * *",
        "2024-10-27T00:45+00:00",
        ["2024-10-27T01:00:00+00:00", "2024-10-27T01:30:00+00:00", "2024-10-28T01:00:00+00:00"],
    ),
]


@pytest.mark.parametrize(("zone", "expression", "after", "expected"), CASES)
def test_next_fire_times(zone: str, expression: str, after: str, expected: list[str]) -> None:
    tz = ZoneInfo(zone)
    schedule = parse_schedule(expression, tz=tz)
    found = next_times(schedule, datetime.fromisoformat(after), len(expected))
    assert [t.astimezone(tz).isoformat() for t in found] == expected
    assert all(t.tzinfo is UTC for t in found)


@pytest.mark.parametrize(("zone", "expression", "after", "expected"), CASES)
def test_after_may_be_given_in_any_zone(
    zone: str, expression: str, after: str, expected: list[str]
) -> None:
    """One instant written in UTC or in the job's zone (with its fold): the same answer."""
    tz = ZoneInfo(zone)
    schedule = parse_schedule(expression, tz=tz)
    instant = datetime.fromisoformat(after)
    for same in (instant.astimezone(UTC), instant.astimezone(tz), instant.astimezone(ZoneInfo(NY))):
        assert schedule.next_after(same) == datetime.fromisoformat(expected[0])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_fires_at_the_first_pass_only_for_fixed_time() -> None:
    tz = ZoneInfo(NY)
    fixed = parse_schedule("30 1 * * *", tz=tz)
    assert fires_at(fixed, utc("2024-11-03T01:30:00-04:00"))
    assert not fires_at(fixed, utc("2024-11-03T01:30:00-05:00"))
    every = parse_schedule("*/30 * * * *", tz=tz)
    assert fires_at(every, utc("2024-11-03T01:30:00-04:00"))
    assert fires_at(every, utc("2024-11-03T01:30:00-05:00"))


def test_fires_at_the_jump_for_a_skipped_fixed_time() -> None:
    tz = ZoneInfo(NY)
    assert fires_at(parse_schedule("30 2 * * *", tz=tz), utc("2024-03-10T03:00:00-04:00"))
    assert not fires_at(parse_schedule("*/30 2 * * *", tz=tz), utc("2024-03-10T03:00:00-04:00"))


@pytest.mark.parametrize(
    ("expression", "start", "end", "count"),
    [
        # 00:30 EDT, 01:00 and 01:30 twice, 02:00, 02:30, 03:00 EST
        ("*/30 * * * *", "2024-11-03T00:00-04:00", "2024-11-03T03:00-05:00", 8),
        ("30 1 * * *", "2024-11-02T12:00-04:00", "2024-11-04T12:00-05:00", 2),
        ("0,30 2 * * *", "2024-03-09T12:00-05:00", "2024-03-11T12:00-04:00", 3),
        ("*/15 2 * * *", "2024-03-09T12:00-05:00", "2024-03-11T12:00-04:00", 4),
        ("* * * * *", "2024-11-03T00:00-04:00", "2024-11-03T03:00-05:00", 240),
        ("* * * * *", "2024-03-10T00:00-05:00", "2024-03-10T04:00-04:00", 180),
        ("0 * * * *", "2024-03-10T00:00-05:00", "2024-03-10T04:00-04:00", 3),
    ],
)
def test_count_between_applies_the_rule(expression: str, start: str, end: str, count: int) -> None:
    schedule = parse_schedule(expression, tz=ZoneInfo(NY))
    found, total = count_between(schedule, utc(start), utc(end), limit=1000)
    assert total == count
    assert len(found) == count


def test_previous_fire_across_fall_back() -> None:
    tz = ZoneInfo(NY)
    fixed = parse_schedule("30 1 * * *", tz=tz)
    not_before = utc("2024-11-01T00:00-04:00")
    # in the second pass, the latest run is still the first 01:30
    latest = previous_fire(fixed, utc("2024-11-03T01:45-05:00"), not_before=not_before)
    assert latest == utc("2024-11-03T01:30:00-04:00")
    every = parse_schedule("*/30 * * * *", tz=tz)
    latest = previous_fire(every, utc("2024-11-03T01:45-05:00"), not_before=not_before)
    assert latest == utc("2024-11-03T01:30:00-05:00")


def test_previous_fire_finds_the_jump_instant() -> None:
    schedule = parse_schedule("30 2 * * *", tz=ZoneInfo(NY))
    before = utc("2024-03-10T12:00-04:00")
    found = previous_fire(schedule, before, not_before=before - timedelta(days=1))
    assert found == utc("2024-03-10T03:00:00-04:00")
