"""Schedules: the cron grammar, Vixie's day rule, H, macros, intervals, one-shot times, errors.

Expected fire times are written by hand from a calendar (2024: Jan 1 is a Monday).
DST behaviour is in test_schedule_dst.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from cronpy.errors import ScheduleError
from cronpy.schedule import (
    COUNT_CAP,
    AtSchedule,
    CronSchedule,
    IntervalSchedule,
    RebootSchedule,
    Schedule,
    count_between,
    fires_at,
    next_times,
    parse_at,
    parse_schedule,
    previous_fire,
)

UTC_ZONE = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def upcoming(expression: str, after: str, n: int, *, tz: ZoneInfo = UTC_ZONE) -> list[str]:
    schedule = parse_schedule(expression, tz=tz)
    return [t.astimezone(tz).isoformat() for t in next_times(schedule, utc(after), n)]


def days(*dates: str, at: str = "00:00:00", offset: str = "+00:00") -> list[str]:
    return [f"{d}T{at}{offset}" for d in dates]


# --- the grammar -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("15 10 * * *", "2024-01-01T10:15Z", days("2024-01-02", "2024-01-03", at="10:15:00")),
        (
            "0 9-11 * * *",
            "2024-01-01T09:30Z",
            ["2024-01-01T10:00:00+00:00", "2024-01-01T11:00:00+00:00", "2024-01-02T09:00:00+00:00"],
        ),
        (
            "*/20 8 * * *",
            "2024-01-01T00:00Z",
            ["2024-01-01T08:00:00+00:00", "2024-01-01T08:20:00+00:00", "2024-01-01T08:40:00+00:00"],
        ),
        (
            "10-30/10 8 * * *",
            "2024-01-01T00:00Z",
            ["2024-01-01T08:10:00+00:00", "2024-01-01T08:20:00+00:00", "2024-01-01T08:30:00+00:00"],
        ),
        (
            "50/5 8 * * *",
            "2024-01-01T00:00Z",  # a start with a step runs to the field's end
            ["2024-01-01T08:50:00+00:00", "2024-01-01T08:55:00+00:00", "2024-01-02T08:50:00+00:00"],
        ),
        (
            "0 22-1 * * *",
            "2024-01-01T12:00Z",  # a backwards range wraps around
            [
                "2024-01-01T22:00:00+00:00",
                "2024-01-01T23:00:00+00:00",
                "2024-01-02T00:00:00+00:00",
                "2024-01-02T01:00:00+00:00",
                "2024-01-02T22:00:00+00:00",
            ],
        ),
        (
            "5-5 0 * * *",
            "2024-01-01T00:00Z",  # one value (croniter reads it as every minute)
            days("2024-01-01", "2024-01-02", at="00:05:00"),
        ),
        ("0 0 1 JAN,jul *", "2024-01-01T00:00Z", days("2024-07-01", "2025-01-01", "2025-07-01")),
        ("0 0 * feb-MAR fri", "2024-01-31T00:00Z", days("2024-02-02", "2024-02-09")),
        ("0 0 * * sat-sun", "2024-01-01T00:00Z", days("2024-01-06", "2024-01-07", "2024-01-13")),
        (
            "0 0 * * fri-mon",
            "2024-01-02T00:00Z",
            days("2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08", "2024-01-12"),
        ),
        ("0 0 * * 7", "2024-01-01T00:00Z", days("2024-01-07", "2024-01-14")),  # 7 is Sunday too
        ("0 0 * * 5-7", "2024-01-01T00:00Z", days("2024-01-05", "2024-01-06", "2024-01-07")),
        ("0 0 29 2 *", "2024-03-01T00:00Z", days("2028-02-29", "2032-02-29")),
        ("  0   12  *  *  * ", "2024-01-01T00:00Z", days("2024-01-01", at="12:00:00")),
    ],
)
def test_cron_fields(expression: str, after: str, expected: list[str]) -> None:
    assert upcoming(expression, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # 6 fields: seconds first, as in Quartz and supercronic
        (
            "*/20 0 12 * * *",
            "2024-01-01T00:00Z",
            [
                "2024-01-01T12:00:00+00:00",
                "2024-01-01T12:00:20+00:00",
                "2024-01-01T12:00:40+00:00",
                "2024-01-02T12:00:00+00:00",
            ],
        ),
        ("5 0 12 * * *", "2024-01-01T00:00Z", days("2024-01-01", "2024-01-02", at="12:00:05")),
        (
            "30 * * * * *",
            "2024-01-01T00:00:30Z",
            ["2024-01-01T00:01:30+00:00", "2024-01-01T00:02:30+00:00"],
        ),
        ("0 0 0 1 * *", "2024-01-01T00:00Z", days("2024-02-01", "2024-03-01")),
    ],
)
def test_six_fields_put_seconds_first(expression: str, after: str, expected: list[str]) -> None:
    assert upcoming(expression, after, len(expected)) == expected


# --- day-of-month and day-of-week, as Vixie cron combines them -----------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # both restricted: OR
        (
            "0 0 1 * mon",
            "2024-01-30T00:00Z",
            days(
                "2024-02-01",
                "2024-02-05",
                "2024-02-12",
                "2024-02-19",
                "2024-02-26",
                "2024-03-01",
                "2024-03-04",
            ),
        ),
        (
            "0 0 1-7 * sun",
            "2024-01-07T12:00Z",
            days("2024-01-14", "2024-01-21", "2024-01-28", "2024-02-01", "2024-02-02"),
        ),
        ("0 0 1-31 * mon", "2024-01-01T00:00Z", days("2024-01-02", "2024-01-03")),
        # a field starting with "*" makes it AND, even when it is a step
        (
            "0 0 */2 * mon",
            "2024-01-01T00:00Z",  # odd days that are Mondays
            days("2024-01-15", "2024-01-29", "2024-02-05", "2024-02-19"),
        ),
        (
            "0 0 1-7 * */7",
            "2024-01-01T00:00Z",  # the first Sunday of each month
            days("2024-01-07", "2024-02-04", "2024-03-03"),
        ),
        ("0 0 1 * *", "2024-01-01T00:00Z", days("2024-02-01", "2024-03-01")),
        ("0 0 * * mon", "2024-01-01T00:00Z", days("2024-01-08", "2024-01-15")),
        ("0 0 ? * mon", "2024-01-01T00:00Z", days("2024-01-08", "2024-01-15")),
        ("0 0 1 * ?", "2024-01-01T00:00Z", days("2024-02-01", "2024-03-01")),
    ],
)
def test_vixie_day_rule(expression: str, after: str, expected: list[str]) -> None:
    assert upcoming(expression, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "0 12 L * *",
            "2024-01-01T00:00Z",
            days("2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", at="12:00:00"),
        ),
        (
            "0 12 1,L * *",
            "2024-01-15T00:00Z",
            days("2024-01-31", "2024-02-01", "2024-02-29", at="12:00:00"),
        ),
        # Jun 15 is a Saturday, Sep 15 a Sunday
        (
            "0 12 15W * *",
            "2024-06-01T00:00Z",
            days("2024-06-14", "2024-07-15", "2024-08-15", "2024-09-16", at="12:00:00"),
        ),
        ("0 12 W15 * *", "2024-06-01T00:00Z", days("2024-06-14", at="12:00:00")),
        # Jun 1 is a Saturday: the nearest weekday in June is Monday the 3rd
        ("0 12 1W * *", "2024-05-15T00:00Z", days("2024-06-03", "2024-07-01", at="12:00:00")),
        (
            "0 12 * * 5#3",
            "2024-06-01T00:00Z",
            days("2024-06-21", "2024-07-19", "2024-08-16", at="12:00:00"),
        ),
        ("0 12 * * fri#3", "2024-06-01T00:00Z", days("2024-06-21", at="12:00:00")),
        (
            "0 12 * * 1#5",
            "2024-01-01T00:00Z",
            days("2024-01-29", "2024-04-29", "2024-07-29", "2024-09-30", at="12:00:00"),
        ),
        (
            "0 12 * * 5L",
            "2024-06-01T00:00Z",
            days("2024-06-28", "2024-07-26", "2024-08-30", at="12:00:00"),
        ),
        ("0 12 * * L5", "2024-06-01T00:00Z", days("2024-06-28", at="12:00:00")),
    ],
)
def test_last_nearest_and_nth(expression: str, after: str, expected: list[str]) -> None:
    assert upcoming(expression, after, len(expected)) == expected


# --- macros ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("macro", "expansion", "fixed"),
    [
        ("@yearly", "0 0 1 1 *", True),
        ("@annually", "0 0 1 1 *", True),
        ("@monthly", "0 0 1 * *", True),
        ("@weekly", "0 0 * * 0", True),
        ("@daily", "0 0 * * *", True),
        ("@midnight", "0 0 * * *", True),
        ("@hourly", "0 * * * *", False),
        ("@DAILY", "0 0 * * *", True),
    ],
)
def test_macros(macro: str, expansion: str, fixed: bool) -> None:
    schedule = parse_schedule(macro, tz=NY)
    assert schedule.text == macro
    assert schedule.fixed_time is fixed
    start = utc("2024-02-27T15:00Z")
    assert next_times(schedule, start, 5) == next_times(parse_schedule(expansion, tz=NY), start, 5)


def test_weekly_means_sunday_midnight() -> None:
    assert upcoming("@weekly", "2024-01-01T00:00Z", 2) == days("2024-01-07", "2024-01-14")


def test_reboot() -> None:
    schedule = parse_schedule("@reboot", tz=NY)
    assert isinstance(schedule, RebootSchedule)
    assert schedule.is_reboot
    assert schedule.next_after(utc("2024-01-01T00:00Z")) is None
    assert count_between(schedule, utc("2024-01-01T00:00Z"), utc("2025-01-01T00:00Z"), limit=5) == (
        [],
        0,
    )
    assert not parse_schedule("@daily", tz=NY).is_reboot


@pytest.mark.parametrize(
    ("expression", "fixed"),
    [
        ("0 3 * * *", True),
        ("*/15 2 * * *", False),
        ("15 * * * *", False),
        ("* 3 * * *", False),
        ("1-59/2 3 * * *", True),  # the rule looks at the first character, as Debian cron does
        ("0 0 3 * * *", True),
        ("*/10 0 3 * * *", False),
        ("0 * 3 * * *", False),
        ("H H * * *", True),
        ("every 5m", False),
    ],
)
def test_fixed_time(expression: str, fixed: bool) -> None:
    assert parse_schedule(expression, tz=NY, job_name="j").fixed_time is fixed


def test_names_are_case_insensitive() -> None:
    lower = parse_schedule("0 0 * jan-mar mon,wed", tz=NY)
    upper = parse_schedule("0 0 * JAN-Mar MON,Wed", tz=NY)
    start = utc("2024-01-01T00:00Z")
    assert next_times(lower, start, 10) == next_times(upper, start, 10)


# --- H -----------------------------------------------------------------------------------


def minutes_of(expression: str, job_name: str) -> set[int]:
    schedule = parse_schedule(expression, tz=UTC_ZONE, job_name=job_name)
    return {t.minute for t in next_times(schedule, utc("2024-01-01T00:00Z"), 8)}


def test_hash_is_stable_and_depends_on_the_name() -> None:
    first = upcoming_for("H H * * *", "backup")
    assert upcoming_for("H H * * *", "backup") == first
    assert any(upcoming_for("H H * * *", f"job{i}") != first for i in range(5))


def upcoming_for(expression: str, job_name: str) -> list[datetime]:
    schedule = parse_schedule(expression, tz=UTC_ZONE, job_name=job_name)
    return next_times(schedule, utc("2024-01-01T00:00Z"), 3)


def test_hash_is_stable_across_processes() -> None:
    """Not Python's hash(): a fresh interpreter with another hash seed picks the same time."""
    code = (
        "from datetime import datetime, UTC; from zoneinfo import ZoneInfo;"
        "from cronpy.schedule import parse_schedule;"
        "s = parse_schedule('H H * * *', tz=ZoneInfo('UTC'), job_name='backup');"
        "print(s.next_after(datetime(2024, 1, 1, tzinfo=UTC)).isoformat())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == upcoming_for("H H * * *", "backup")[0].isoformat()


def test_hash_spreads_jobs_out() -> None:
    minutes = {next(iter(minutes_of("H * * * *", f"job-{i}"))) for i in range(100)}
    assert len(minutes) >= 35  # 100 names over 60 minutes: about 48 distinct expected
    hours = {
        parse_schedule("0 H * * *", tz=UTC_ZONE, job_name=f"job-{i}").next_after(
            utc("2024-01-01T00:00Z")
        )
        for i in range(100)
    }
    assert len(hours) >= 15


def test_hash_with_range_and_step() -> None:
    for i in range(50):
        (minute,) = minutes_of("H(0-29) * * * *", f"job{i}")
        assert 0 <= minute <= 29
        stepped = sorted(minutes_of("H/15 * * * *", f"job{i}"))
        assert len(stepped) == 4
        assert stepped[0] < 15
        assert [b - a for a, b in pairwise(stepped)] == [15, 15, 15]


def test_hash_in_day_of_month_fires_every_month() -> None:
    for i in range(50):
        schedule = parse_schedule("0 0 H * *", tz=UTC_ZONE, job_name=f"job{i}")
        found = next_times(schedule, utc("2024-01-01T00:00Z"), 12)
        assert [t.month for t in found] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1] or [
            t.month for t in found
        ] == list(range(1, 13))
        assert all(t.day <= 28 for t in found)


def test_hash_hours_and_minutes_are_independent() -> None:
    """One hash per field: the hour must not be a function of the minute."""
    pairs = {
        (t.minute % 2, t.hour % 2)
        for i in range(200)
        for t in upcoming_for("H H * * *", f"job{i}")[:1]
    }
    assert len(pairs) == 4


# --- every -------------------------------------------------------------------------------


def test_every_keeps_its_cadence_from_the_anchor() -> None:
    schedule = parse_schedule("every 15m", tz=NY)
    assert isinstance(schedule, IntervalSchedule)
    anchor = utc("2024-01-01T00:07Z")
    assert schedule.next_after(utc("2024-01-01T00:07Z"), anchor=anchor) == utc("2024-01-01T00:22Z")
    assert schedule.next_after(utc("2024-01-01T05:00Z"), anchor=anchor) == utc("2024-01-01T05:07Z")
    assert schedule.next_after(utc("2024-01-01T05:07Z"), anchor=anchor) == utc("2024-01-01T05:22Z")
    # before the anchor: the first run is one interval after the job appeared
    assert schedule.next_after(utc("2023-12-31T00:00Z"), anchor=anchor) == utc("2024-01-01T00:22Z")
    # no anchor: counted from ``after``
    assert schedule.next_after(utc("2024-01-01T05:01:30Z")) == utc("2024-01-01T05:16:30Z")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("every 30s", 30), ("every 2h", 7200), ("every 1h30m", 5400), ("EVERY 1s", 1)],
)
def test_every_durations(text: str, seconds: int) -> None:
    schedule = parse_schedule(text, tz=NY)
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.every == timedelta(seconds=seconds)
    assert not schedule.fixed_time


def test_every_counts_elapsed_time_across_dst() -> None:
    schedule = parse_schedule("every 1h", tz=NY)
    anchor = utc("2024-11-03T00:30-04:00")
    found = next_times(schedule, anchor, 3, anchor=anchor)
    assert [t.astimezone(NY).isoformat() for t in found] == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:00-05:00",
        "2024-11-03T02:30:00-05:00",
    ]


def test_every_anchor_in_a_local_zone_is_not_wall_arithmetic() -> None:
    schedule = parse_schedule("every 1h", tz=NY)
    anchor = datetime(2024, 11, 3, 1, 30, tzinfo=NY)  # fold=0: 05:30Z
    assert schedule.next_after(anchor, anchor=anchor) == utc("2024-11-03T06:30Z")


def test_every_count_is_arithmetic() -> None:
    schedule = parse_schedule("every 1s", tz=NY)
    start = utc("2024-01-01T00:00Z")
    found, total = count_between(schedule, start, start + timedelta(days=7), limit=3)
    assert total == COUNT_CAP  # 604,800 runs, counted without visiting them
    assert found == [start + timedelta(seconds=k) for k in (1, 2, 3)]
    every_7m = parse_schedule("every 7m", tz=NY)
    hour_later = start + timedelta(hours=1)
    found, total = count_between(every_7m, start, hour_later, anchor=start, limit=99)
    assert total == 8
    assert found[-1] == start + timedelta(minutes=56)


# --- at ----------------------------------------------------------------------------------


def test_at_times() -> None:
    schedule = parse_at(
        ["2026-12-24T18:00", "2026-06-01T09:00:00+00:00", "2026-12-24T18:00"],
        tz=ZoneInfo("Europe/Berlin"),
    )
    assert isinstance(schedule, AtSchedule)
    assert schedule.fixed_time and not schedule.is_reboot
    start = utc("2026-01-01T00:00Z")
    assert next_times(schedule, start, 5) == [
        utc("2026-06-01T09:00Z"),
        utc("2026-12-24T17:00Z"),  # naive: Berlin wall time
    ]
    assert schedule.next_after(utc("2026-12-24T17:00Z")) is None


def test_at_applies_the_dst_rule_to_naive_times() -> None:
    schedule = parse_at(["2024-03-10T02:30", "2024-11-03T01:30"], tz=NY)
    assert next_times(schedule, utc("2024-01-01T00:00Z"), 3) == [
        utc("2024-03-10T03:00-04:00"),  # does not exist: the jump
        utc("2024-11-03T01:30-04:00"),  # happens twice: the first
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "one or more ISO 8601 times"),
        ("2026-12-24T18:00", "one or more ISO 8601 times"),  # a bare string, not a list
        (["2026-13-01T00:00"], "invalid \"at\" time '2026-13-01T00:00': expected ISO 8601"),
        (["tomorrow"], "'tomorrow'"),
    ],
)
def test_at_errors(values: list[str], message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_at(values, tz=NY)
    assert message in str(info.value)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("61 * * * *", 'invalid schedule "61 * * * *": minute value 61 is out of range 0-59'),
        ("0 24 * * *", "hour value 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month value 0 is out of range 1-31"),
        ("0 0 * 13 *", "month value 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week value 8 is out of range 0-7"),
        ("60 0 0 * * *", "second value 60 is out of range 0-59"),
        ("0 0 * jab *", 'month "jab" is not a number or a name (jan-dec)'),
        ("0 0 * * funday", 'day-of-week "funday" is not a number or a name (sun-sat)'),
        ("x * * * *", 'minute "x" is not a number'),
        ("*/0 * * * *", "minute step 0 must be at least 1"),
        ("*/61 * * * *", "minute step 61 is larger than the range 0-59"),
        ("0 */x * * *", 'hour step "x" is not a whole number'),
        ("1-2-3 * * * *", 'minute "1-2-3" is not a value, range, step or list'),
        ("*-5 * * * *", '"*" cannot start a range'),
        ("1,,2 * * * *", 'minute "1,,2" has an empty list item'),
        ("0 0 * * 5#6", 'day-of-week "5#6": the number after # must be 1-5'),
        ("0 0 LW * *", 'day-of-month "LW" is not a number'),
        ("0 0 * JAB *", 'month "JAB" is not a number or a name (jan-dec)'),
        ("0 0 ? * *", ""),  # allowed: day-of-month may be "?"
        ("? 0 * * *", 'minute cannot be "?"'),
        ("H(30-10) * * * *", 'minute "H(30-10)": the range must go upward'),
        ("H(0-70) * * * *", "minute value 70 is out of range 0-59"),
        ("0 0 30 2 *", 'it never fires: no date has day-of-month "30" in month "2"'),
        ("0 0 31 4 *", 'it never fires: no date has day-of-month "31" in month "4"'),
        ("0 0 31 apr,jun,sep,nov *", "it never fires"),
        ("0 0 30 2 */2", 'no date has day-of-month "30" and day-of-week "*/2" in month "2"'),
        (
            "* * *",
            "expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds "
            "first, a macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, "
            '@hourly, @reboot) or "every <duration>"; got 3 fields',
        ),
        ("0 0 0 0 0 0 0", "got 7 fields"),
        ("", "it is empty"),
        ("@dayly", 'unknown macro "@dayly"'),
        ("every", 'expected "every <duration>"'),
        ("every 5 m", 'expected "every <duration>"'),
        ("every 1.5h", "invalid duration '1.5h'"),
        ("every 500ms", "the interval 0.50s is shorter than 1s"),
        ("every 0s", "shorter than 1s"),
    ],
)
def test_errors(text: str, message: str) -> None:
    if not message:
        parse_schedule(text, tz=NY)
        return
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, tz=NY)
    assert message in str(info.value)
    assert str(info.value).startswith(f'invalid schedule "{text}": ')


def test_dom_and_dow_or_rescues_an_impossible_date() -> None:
    """Feb 30 never comes, but with OR the Mondays still fire (Vixie)."""
    assert upcoming("0 0 30 2 mon", "2024-01-01T00:00Z", 2) == days("2024-02-05", "2024-02-12")
    # a fifth Monday in February needs Feb 29 to be a Monday: 28 years apart
    assert upcoming("0 0 30 FEB MON#5", "2024-01-01T00:00Z", 2) == days("2044-02-29", "2072-02-29")


# --- questions asked of any schedule -----------------------------------------------------


@pytest.mark.parametrize("text", ["0 0 * * *", "every 5m"])
def test_next_after_needs_an_aware_datetime(text: str) -> None:
    """A naive datetime would silently mean the machine's zone: refuse it."""
    with pytest.raises(ValueError, match="aware"):
        parse_schedule(text, tz=NY).next_after(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        parse_at(["2024-06-01T00:00"], tz=NY).next_after(datetime(2024, 1, 1))


def test_matches_wall() -> None:
    schedule = parse_schedule("30 2 * * mon", tz=NY)
    assert isinstance(schedule, CronSchedule)
    assert schedule.matches_wall(datetime(2024, 3, 11, 2, 30))  # a Monday
    assert not schedule.matches_wall(datetime(2024, 3, 12, 2, 30))
    assert not schedule.matches_wall(datetime(2024, 3, 11, 2, 31))


def test_next_after_is_strict_and_in_utc() -> None:
    schedule = parse_schedule("0 12 * * *", tz=UTC_ZONE)
    assert schedule.next_after(utc("2024-01-01T12:00Z")) == utc("2024-01-02T12:00Z")
    assert schedule.next_after(utc("2024-01-01T11:59:59.999999Z")) == utc("2024-01-01T12:00Z")
    assert schedule.next_after(utc("2024-01-01T12:00:00.000001Z")) == utc("2024-01-02T12:00Z")


def test_fires_at() -> None:
    schedule = parse_schedule("30 3 * * *", tz=NY)
    assert fires_at(schedule, utc("2024-01-01T03:30-05:00"))
    assert not fires_at(schedule, utc("2024-01-01T03:30:01-05:00"))
    assert not fires_at(schedule, utc("2024-01-01T03:30-04:00"))
    interval = parse_schedule("every 10m", tz=NY)
    anchor = utc("2024-01-01T00:05Z")
    assert fires_at(interval, utc("2024-01-01T01:15Z"), anchor=anchor)
    assert not fires_at(interval, utc("2024-01-01T01:10Z"), anchor=anchor)
    assert not fires_at(interval, anchor, anchor=anchor)  # the first run is one interval later


def test_previous_fire() -> None:
    schedule = parse_schedule("0 3 * * *", tz=UTC_ZONE)
    before = utc("2024-01-10T12:00Z")
    assert previous_fire(schedule, before, not_before=utc("2024-01-01T00:00Z")) == utc(
        "2024-01-10T03:00Z"
    )
    # inclusive at both ends
    three = utc("2024-01-10T03:00Z")
    assert previous_fire(schedule, three, not_before=three) == three
    assert previous_fire(schedule, before, not_before=utc("2024-01-10T03:00:01Z")) is None
    yearly = parse_schedule("@yearly", tz=UTC_ZONE)
    assert previous_fire(yearly, before, not_before=utc("2020-06-01T00:00Z")) == utc(
        "2024-01-01T00:00Z"
    )
    dense = parse_schedule("* * * * * *", tz=UTC_ZONE)
    long_ago = utc("2020-01-01T00:00Z")
    assert previous_fire(dense, utc("2024-01-10T12:00:00.5Z"), not_before=long_ago) == utc(
        "2024-01-10T12:00Z"
    )


def test_previous_fire_of_intervals_and_at() -> None:
    interval = parse_schedule("every 10m", tz=NY)
    anchor = utc("2024-01-01T00:05Z")
    before = utc("2024-01-01T01:00Z")
    assert previous_fire(interval, before, not_before=anchor, anchor=anchor) == utc(
        "2024-01-01T00:55Z"
    )
    late = utc("2024-01-01T00:56Z")
    assert previous_fire(interval, before, not_before=late, anchor=anchor) is None
    early = utc("2024-01-01T00:10Z")
    assert previous_fire(interval, early, not_before=anchor, anchor=anchor) is None
    at = parse_at(["2024-01-01T00:30:00+00:00", "2024-01-01T02:00:00+00:00"], tz=NY)
    assert previous_fire(at, before, not_before=utc("2023-01-01T00:00Z")) == utc(
        "2024-01-01T00:30Z"
    )
    assert previous_fire(parse_schedule("@reboot", tz=NY), before, not_before=anchor) is None


def test_count_between() -> None:
    schedule = parse_schedule("*/10 * * * *", tz=UTC_ZONE)
    start, end = utc("2024-01-01T00:00Z"), utc("2024-01-01T01:00Z")
    found, total = count_between(schedule, start, end, limit=2)
    assert total == 6  # (start, end]: 00:10 ... 01:00
    assert found == [utc("2024-01-01T00:10Z"), utc("2024-01-01T00:20Z")]
    assert count_between(schedule, end, start, limit=5) == ([], 0)
    every_minute = parse_schedule("* * * * *", tz=UTC_ZONE)
    assert count_between(every_minute, start, start + timedelta(days=30), limit=0)[1] == 43_200
    every_second = parse_schedule("* * * * * *", tz=UTC_ZONE)
    assert count_between(every_second, start, start + timedelta(days=7), limit=0)[1] == COUNT_CAP
    at = parse_at(["2024-01-01T00:30:00+00:00", "2024-01-01T02:00:00+00:00"], tz=NY)
    assert count_between(at, start, end, limit=5) == ([utc("2024-01-01T00:30Z")], 1)


def test_next_times_stops_when_the_schedule_does() -> None:
    at = parse_at(["2024-01-01T00:30:00+00:00"], tz=NY)
    assert next_times(at, utc("2024-01-01T00:00Z"), 5) == [utc("2024-01-01T00:30Z")]


def test_every_kind_is_a_schedule_and_keeps_its_text() -> None:
    kinds: list[Schedule] = [
        parse_schedule(" 0 3 * * * ", tz=NY),
        parse_schedule("every 5m", tz=NY),
        parse_schedule("@reboot", tz=NY),
        parse_at(["2026-01-01T00:00"], tz=NY),
    ]
    assert [type(k) for k in kinds] == [CronSchedule, IntervalSchedule, RebootSchedule, AtSchedule]
    assert kinds[0].text == " 0 3 * * * "
    assert kinds[1].text == "every 5m"
    assert kinds[3].text == "at 2026-01-01T00:00"
    assert [k.is_reboot for k in kinds] == [False, False, True, False]
