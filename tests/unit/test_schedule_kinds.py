"""The Schedule protocol asked of each kind directly: next_times, fires_at, count_between and
previous_fire as methods, with answers worked out by hand (2024-01-01 is a Monday).

test_schedule.py asks the same questions through cronpy.schedule's functions; this file
covers each method on each kind, and that a schedule is immutable whatever it is asked.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from cronpy.interfaces import Schedule
from cronpy.schedule import parse_at, parse_schedule

UTC_ZONE = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def ny(instants: list[datetime]) -> list[str]:
    return [t.astimezone(NY).isoformat() for t in instants]


CRON = parse_schedule("0 */6 * * *", tz=UTC_ZONE)  # 00:00, 06:00, 12:00, 18:00
EVERY = parse_schedule("every 10m", tz=NY)
AT = parse_at(
    ["2024-01-01T00:30:00+00:00", "2024-01-01T02:00:00+00:00", "2024-01-02T00:00:00+00:00"],
    tz=NY,
)
REBOOT = parse_schedule("@reboot", tz=NY)
ANCHOR = utc("2024-01-01T00:05Z")


# --- cron --------------------------------------------------------------------------------


def test_cron_next_times() -> None:
    assert CRON.next_times(utc("2024-01-01T06:00Z"), 3) == [
        utc("2024-01-01T12:00Z"),
        utc("2024-01-01T18:00Z"),
        utc("2024-01-02T00:00Z"),
    ]
    assert CRON.next_times(utc("2024-01-01T06:00Z"), 0) == []
    # the last day of February, leap year or not
    last_of_feb = parse_schedule("0 0 L 2 *", tz=UTC_ZONE)
    assert last_of_feb.next_times(utc("2023-01-01T00:00Z"), 3) == [
        utc("2023-02-28T00:00Z"),
        utc("2024-02-29T00:00Z"),
        utc("2025-02-28T00:00Z"),
    ]


def test_cron_next_times_apply_the_dst_rule() -> None:
    fixed = parse_schedule("30 1 * * *", tz=NY)
    assert ny(fixed.next_times(utc("2024-11-02T12:00-04:00"), 2)) == [
        "2024-11-03T01:30:00-04:00",  # 01:30 happens twice: the first only
        "2024-11-04T01:30:00-05:00",
    ]
    every_half_hour = parse_schedule("*/30 1 * * *", tz=NY)  # not fixed: both passes
    assert ny(every_half_hour.next_times(utc("2024-11-03T00:00-04:00"), 4)) == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:00:00-05:00",
        "2024-11-03T01:30:00-05:00",
    ]


def test_cron_fires_at() -> None:
    assert CRON.fires_at(utc("2024-01-01T12:00Z"))
    assert CRON.fires_at(datetime(2024, 1, 1, 7, 0, tzinfo=NY))  # 12:00Z, in another zone
    assert not CRON.fires_at(utc("2024-01-01T12:00:01Z"))
    assert not CRON.fires_at(utc("2024-01-01T11:59:59.999999Z"))
    assert CRON.fires_at(utc("2024-01-01T12:00Z"), anchor=ANCHOR)  # cron ignores the anchor


def test_cron_count_between() -> None:
    start, end = utc("2024-01-01T06:00Z"), utc("2024-01-01T18:00Z")
    assert CRON.count_between(start, end, limit=5) == (
        [utc("2024-01-01T12:00Z"), utc("2024-01-01T18:00Z")],  # (start, end]
        2,
    )
    assert CRON.count_between(start, end, limit=1) == ([utc("2024-01-01T12:00Z")], 2)
    assert CRON.count_between(end, start, limit=5) == ([], 0)
    # a fall-back night: a non-fixed job runs at each 01:xx twice, and is counted twice
    every_half_hour = parse_schedule("*/30 1 * * *", tz=NY)
    night = utc("2024-11-03T00:00-04:00"), utc("2024-11-03T03:00-05:00")
    found, total = every_half_hour.count_between(*night, limit=10)
    assert total == len(found) == 4


def test_cron_previous_fire() -> None:
    before = utc("2024-01-01T17:59Z")
    assert CRON.previous_fire(before, not_before=utc("2024-01-01T00:00Z")) == utc(
        "2024-01-01T12:00Z"
    )
    assert CRON.previous_fire(before, not_before=utc("2024-01-01T12:00:01Z")) is None
    six = utc("2024-01-01T06:00Z")
    assert CRON.previous_fire(six, not_before=six) == six  # both ends inclusive
    assert CRON.previous_fire(
        utc("2024-03-01T00:00:00.5Z"), not_before=utc("2024-01-01T00:00Z")
    ) == utc("2024-03-01T00:00Z")
    assert CRON.previous_fire(utc("2024-02-29T23:59Z"), not_before=utc("2023-01-01T00:00Z")) == utc(
        "2024-02-29T18:00Z"
    )


# --- every -------------------------------------------------------------------------------


def test_every_next_times() -> None:
    after = utc("2024-01-01T00:07Z")
    assert EVERY.next_times(after, 3, anchor=ANCHOR) == [
        utc("2024-01-01T00:15Z"),
        utc("2024-01-01T00:25Z"),
        utc("2024-01-01T00:35Z"),
    ]
    # no anchor: the cadence starts at ``after``
    assert EVERY.next_times(after, 2) == [utc("2024-01-01T00:17Z"), utc("2024-01-01T00:27Z")]
    assert EVERY.next_times(after, 0, anchor=ANCHOR) == []


def test_every_fires_at() -> None:
    assert EVERY.fires_at(utc("2024-01-01T00:15Z"), anchor=ANCHOR)
    assert EVERY.fires_at(utc("2024-01-01T05:05Z"), anchor=ANCHOR)
    assert not EVERY.fires_at(utc("2024-01-01T00:20Z"), anchor=ANCHOR)
    assert not EVERY.fires_at(ANCHOR, anchor=ANCHOR)  # the first run is one interval later
    assert not EVERY.fires_at(utc("2024-01-01T00:15Z"))  # no anchor, no cadence to be on


def test_every_count_between() -> None:
    start, end = utc("2024-01-01T00:00Z"), utc("2024-01-01T01:00Z")
    assert EVERY.count_between(start, end, anchor=ANCHOR, limit=2) == (
        [utc("2024-01-01T00:15Z"), utc("2024-01-01T00:25Z")],
        5,  # :15 :25 :35 :45 :55
    )
    found, total = EVERY.count_between(start, end, limit=10)  # counted from ``start``
    assert total == 6
    assert found[0] == utc("2024-01-01T00:10Z") and found[-1] == end
    assert EVERY.count_between(end, start, anchor=ANCHOR, limit=5) == ([], 0)


def test_every_previous_fire() -> None:
    before = utc("2024-01-01T01:00Z")
    not_before = utc("2024-01-01T00:00Z")
    assert EVERY.previous_fire(before, not_before=not_before, anchor=ANCHOR) == utc(
        "2024-01-01T00:55Z"
    )
    assert EVERY.previous_fire(before, not_before=not_before) == before  # counted from not_before
    assert EVERY.previous_fire(before, not_before=utc("2024-01-01T00:56Z"), anchor=ANCHOR) is None


# --- at ----------------------------------------------------------------------------------


def test_at_next_times() -> None:
    assert AT.next_times(utc("2024-01-01T00:00Z"), 2) == [
        utc("2024-01-01T00:30Z"),
        utc("2024-01-01T02:00Z"),
    ]
    assert AT.next_times(utc("2024-01-01T00:30Z"), 5) == [
        utc("2024-01-01T02:00Z"),
        utc("2024-01-02T00:00Z"),
    ]
    assert AT.next_times(utc("2024-01-01T00:00Z"), 0) == []


def test_at_fires_at() -> None:
    assert AT.fires_at(utc("2024-01-01T00:30Z"))
    assert AT.fires_at(datetime(2023, 12, 31, 19, 30, tzinfo=NY))  # the same instant
    assert not AT.fires_at(utc("2024-01-01T00:30:00.000001Z"))
    assert not AT.fires_at(utc("2024-01-01T01:00Z"))


def test_at_count_between() -> None:
    first, second = utc("2024-01-01T00:30Z"), utc("2024-01-01T02:00Z")
    assert AT.count_between(first, second, limit=5) == ([second], 1)  # (start, end]
    assert AT.count_between(utc("2023-01-01T00:00Z"), utc("2025-01-01T00:00Z"), limit=0) == (
        [],
        3,
    )
    assert AT.count_between(second, first, limit=5) == ([], 0)


def test_at_previous_fire() -> None:
    first, second = utc("2024-01-01T00:30Z"), utc("2024-01-01T02:00Z")
    just_before = second - timedelta(seconds=1)
    assert AT.previous_fire(second, not_before=first) == second
    assert AT.previous_fire(just_before, not_before=first) == first
    assert AT.previous_fire(just_before, not_before=utc("2024-01-01T00:31Z")) is None
    assert AT.previous_fire(utc("2024-01-01T00:29Z"), not_before=utc("2020-01-01T00:00Z")) is None


# --- @reboot -----------------------------------------------------------------------------


def test_reboot_answers_nothing_on_the_clock() -> None:
    start, end = utc("2024-01-01T00:00Z"), utc("2025-01-01T00:00Z")
    assert REBOOT.next_times(start, 5) == []
    assert not REBOOT.fires_at(start)
    assert REBOOT.count_between(start, end, anchor=start, limit=5) == ([], 0)
    assert REBOOT.previous_fire(end, not_before=start, anchor=start) is None


# --- every kind --------------------------------------------------------------------------


def _immutable(value: object) -> bool:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:  # a frozen dataclass refuses any assignment
            setattr(value, dataclasses.fields(value)[0].name, None)
        except dataclasses.FrozenInstanceError:
            # every attribute: a slotted dataclass has no others (and no vars())
            names = [f.name for f in dataclasses.fields(value)]
            extra = list(getattr(value, "__dict__", {}))
            return all(_immutable(getattr(value, n)) for n in names + extra)
        return False
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(v) for v in value)
    return value is None or isinstance(value, (bool, int, str, timedelta, datetime, tzinfo))


@pytest.mark.parametrize("schedule", [CRON, EVERY, AT, REBOOT], ids=lambda s: s.text)
def test_a_schedule_holds_no_mutable_state(schedule: Schedule) -> None:
    """Schedules are shared (parse_schedule caches them), so nothing in one may change."""
    start = utc("2000-01-01T00:00Z")
    schedule.count_between(start, start + timedelta(days=3650), anchor=start, limit=3)
    schedule.next_times(start, 50, anchor=start)
    assert _immutable(schedule)
    assert hash(schedule) == hash(schedule)


def test_croniter_is_not_imported_at_run_time() -> None:
    """croniter is only the property test's oracle: the package must work without it."""
    code = (
        "import sys; from zoneinfo import ZoneInfo; from datetime import datetime, UTC\n"
        "import cronpy.cli.main, cronpy.config, cronpy.engine.engine, cronpy.runtime.loop\n"
        "from cronpy.schedule import parse_schedule\n"
        "parse_schedule('H 3 * * mon-fri', tz=ZoneInfo('UTC'), job_name='x')"
        ".next_after(datetime.now(UTC))\n"
        "assert 'croniter' not in sys.modules, 'croniter was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_falls_on_whole_seconds_whatever_the_anchor() -> None:
    every = parse_schedule("every 5m", tz=ZoneInfo("UTC"))
    anchor = datetime(2026, 11, 30, 4, 50, 0, 359_000, tzinfo=UTC)  # first seen mid-second
    fire = datetime(2026, 11, 30, 4, 55, tzinfo=UTC)
    assert every.next_after(anchor, anchor=anchor) == fire
    assert every.fires_at(fire, anchor=anchor)
    assert every.next_times(anchor, 2) == [fire, fire + timedelta(minutes=5)]
    assert every.previous_fire(fire, not_before=anchor, anchor=anchor) == fire
    times, count = every.count_between(anchor, fire, anchor=anchor, limit=5)
    assert (times, count) == ([fire], 1)
