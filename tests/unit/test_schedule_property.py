"""Properties of cron schedules on random expressions, zones and start instants (2020-2030).

The oracle is independent of cronpy's parser: croniter expands the fields, the test applies
Vixie's day rule and the DST rule itself, and a brute-force walk over every minute (every
second for 6-field expressions) after each result checks that nothing was skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cronpy.errors import ScheduleError
from cronpy.schedule import count_between, fires_at, next_times, parse_schedule, previous_fire

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "UTC",
    "Europe/Berlin",
    "Australia/Sydney",
]
START = datetime(2020, 1, 1, tzinfo=UTC)
SPAN = 10 * 365 * 86_400
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def offset(tz: ZoneInfo, when: datetime) -> timedelta:
    value = when.astimezone(tz).utcoffset()
    assert value is not None
    return value


def find_transitions(zone: str) -> list[datetime]:
    """Offset changes 2020-2030: a daily scan, each change bisected to the second."""
    tz = ZoneInfo(zone)
    found = []
    for day in range(SPAN // 86_400):
        low, high = START + timedelta(days=day), START + timedelta(days=day + 1)
        if offset(tz, low) != offset(tz, high):
            while high - low > SECOND:
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if offset(tz, middle) == offset(tz, low):
                    low = middle
                else:
                    high = middle
            found.append(high)
    return found


TRANSITIONS = {zone: find_transitions(zone) for zone in ZONES}


def field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    value = st.integers(low, high)

    def span(pair: tuple[int, int]) -> str:
        a, b = sorted(pair)  # croniter reads "a-a" as the whole field, so never write it
        return str(a) if a == b else f"{a}-{b}"

    count = high - low + 1
    item = st.one_of(
        value.map(str),
        st.tuples(value, value).map(span),
        st.tuples(value, value, st.integers(1, count // 2)).map(
            lambda t: (
                f"{min(t[:2])}-{max(t[0], t[1]) + (t[0] == t[1])}/{t[2]}"
                if max(t[:2]) < high
                else f"{min(t[:2]) - (t[0] == t[1])}-{high}/{t[2]}"  # never "7-7/1" either
            )
        ),
        st.integers(2, count // 2).map(lambda n: f"*/{n}"),
        *([st.sampled_from(names)] if names else []),
    )
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join))


MONTH_NAMES = ["jan", "FEB", "Mar", "apr", "oct", "nov", "dec"]
DAY_NAMES = ["sun", "MON", "fri", "Sat"]


def transition_hours(zone: str) -> list[int]:
    """Local hours on either side of the zone's transitions: where the DST rule is exercised."""
    tz = ZoneInfo(zone)
    hours = {
        (t + shift).astimezone(tz).hour
        for t in TRANSITIONS[zone]
        for shift in (-timedelta(minutes=30), -SECOND, timedelta(0), timedelta(minutes=30))
    }
    return sorted(hours) or [2]


@st.composite
def expressions(draw: st.DrawFn, zone: str, near_dst: bool) -> str:
    if near_dst:  # every day, at hours around the transition, to hit the skipped or repeated times
        hours = transition_hours(zone)
        hour = draw(
            st.one_of(
                st.sampled_from(hours).map(str),
                st.lists(st.sampled_from(hours), min_size=1, max_size=3, unique=True).map(
                    lambda hs: ",".join(map(str, sorted(hs)))
                ),
                field(0, 23),
            )
        )
        minute = draw(st.one_of(field(0, 59), st.sampled_from(["0", "30", "0,30", "45", "15,45"])))
        day = draw(st.sampled_from(["*", "*", "*", "*/2", "1-31"]))
        fields = [minute, hour, day, "*", draw(st.sampled_from(["*", "*", "*", "0-6"]))]
    else:
        fields = [
            draw(field(0, 59)),
            draw(field(0, 23)),
            draw(st.one_of(st.just("*"), field(1, 28), field(1, 31))),
            draw(st.one_of(st.just("*"), st.just("*"), field(1, 12, MONTH_NAMES))),
            draw(st.one_of(st.just("*"), st.just("*"), field(0, 7, DAY_NAMES))),
        ]
    if draw(st.integers(0, 4)) == 0:
        fields.insert(0, draw(st.one_of(field(0, 59), st.just("0"))))
    return " ".join(fields)


def starts(zone: str, near_dst: bool) -> st.SearchStrategy[datetime]:
    transitions = TRANSITIONS[zone]
    if near_dst and transitions:
        return st.tuples(
            st.sampled_from(transitions), st.integers(-3 * 3600, 3 * 3600), st.integers(0, 1)
        ).map(lambda t: t[0] + timedelta(seconds=t[1], microseconds=t[2]))
    return st.tuples(st.integers(0, SPAN), st.integers(0, 1)).map(
        lambda t: START + timedelta(seconds=t[0], microseconds=t[1])
    )


@dataclass(frozen=True)
class Oracle:
    """Which naive wall times match, from croniter's expansion and Vixie's day rule."""

    sets: list[set[int] | None]  # minute, hour, dom, month, dow, second; None = every value
    either: bool

    @classmethod
    def of(cls, expression: str) -> Oracle:
        fields = expression.split()
        six = len(fields) == 6
        expanded, _ = croniter.expand(expression, second_at_beginning=six)
        sets = [None if values == ["*"] else {int(v) for v in values} for values in expanded]
        if not six:
            sets.append({0})
        dom, dow = fields[-3], fields[-1]
        return cls(sets, either=not (dom.startswith("*") or dow.startswith("*")))

    def matches(self, wall: datetime) -> bool:
        minute, hour, dom, month, dow, second = self.sets

        def has(values: set[int] | None, value: int) -> bool:
            return values is None or value in values

        if not (has(second, wall.second) and has(minute, wall.minute) and has(hour, wall.hour)):
            return False
        if not has(month, wall.month):
            return False
        by_date, by_weekday = has(dom, wall.day), has(dow, wall.isoweekday() % 7)
        return (by_date or by_weekday) if self.either else (by_date and by_weekday)


def wall_of(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def skipped_match(
    instant: datetime, tz: ZoneInfo, matches: Callable[[datetime], bool], step: timedelta
) -> bool:
    """Whether ``instant`` is a spring-forward jump over a wall time that matches."""
    before, after = offset(tz, instant - SECOND), offset(tz, instant)
    if after <= before:
        return False
    gap_start = (instant + before).replace(tzinfo=None)
    gap_end = (instant + after).replace(tzinfo=None)
    wall = gap_start
    while wall < gap_end:
        if matches(wall):
            return True
        wall += step
    return False


def should_fire(
    instant: datetime, tz: ZoneInfo, oracle: Oracle, fixed: bool, step: timedelta
) -> bool:
    wall = wall_of(instant, tz)
    if oracle.matches(wall):
        if not fixed:
            return True
        first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if first == instant:
            return True
    return fixed and skipped_match(instant, tz, oracle.matches, step)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), zone=st.sampled_from(ZONES), near_dst=st.integers(0, 2).map(bool))
def test_cron_properties(data: st.DataObject, zone: str, near_dst: bool) -> None:
    tz = ZoneInfo(zone)
    expression = data.draw(expressions(zone, near_dst), label="expression")
    start = data.draw(starts(zone, near_dst), label="start")
    try:
        schedule = parse_schedule(expression, tz=tz)
    except ScheduleError as exc:
        assert "never fires" in str(exc)
        assume(False)
        raise
    oracle = Oracle.of(expression)
    six = len(expression.split()) == 6
    step = SECOND if six else MINUTE
    results = next_times(schedule, start, 10)
    assert len(results) == 10

    for earlier, later in pairwise([start, *results]):
        assert later > earlier
    for instant in results:
        assert instant.tzinfo is UTC
        assert instant.microsecond == 0
        wall = wall_of(instant, tz)
        assert oracle.matches(wall) or (
            schedule.fixed_time and skipped_match(instant, tz, oracle.matches, step)
        ), f"{instant} ({wall}) does not match {expression!r}"
        assert fires_at(schedule, instant)
    if schedule.fixed_time:
        walls = [wall_of(t, tz) for t in results]
        assert len(set(walls)) == len(walls), "a fixed-time job ran twice at one wall time"

    # Nothing is skipped: walk every minute (second) for a while after each result.
    window = timedelta(minutes=15) if six else timedelta(hours=3)
    floor = start.replace(microsecond=0)
    floor -= timedelta(seconds=0 if six else floor.second)
    for earlier, later in pairwise([floor, *results]):
        t = earlier + step
        while t < min(later, earlier + window):
            if t > start:
                assert not should_fire(t, tz, oracle, schedule.fixed_time, step), (
                    f"{expression!r} skipped {t.astimezone(tz)}"
                )
            t += step

    # The other questions agree with next_after.
    found, total = count_between(schedule, start, results[-1], limit=20)
    assert (found, total) == (results, 10)
    assert previous_fire(schedule, results[-1], not_before=start) == results[-1]
    assert (
        previous_fire(schedule, results[-1] - timedelta(microseconds=1), not_before=results[0])
        == results[-2]
    )
