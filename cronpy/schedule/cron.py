"""Cron schedules: which wall times match an expression, and the instants they fire at.

Matching wall times are found by bisecting the sorted field values, month by month, and
mapped to instants segment by segment of constant UTC offset, with the daylight-saving rule of
``cronpy.schedule.zones`` applied where a segment ends. Everything runs on integer POSIX
seconds: one ``next_after`` costs a few microseconds, and counting the fire times of a long
stretch costs what a day does.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import islice

from cronpy.interfaces import COUNT_CAP
from cronpy.schedule.parse import CronFields, Days, month_kind
from cronpy.schedule.zones import (
    DAY,
    EPOCH_ORDINAL,
    LAST_YEAR,
    MICROSECOND,
    day_start,
    first_transition,
    first_wall,
    from_seconds,
    seconds_of,
)

# --- which days of a month match ---------------------------------------------------------


@lru_cache(maxsize=32_768)  # 2,730 years of months: enough that a long search stays hot
def _kind_of(year: int, month: int) -> int:
    """What kind of month ``year-month`` is: an index into ``Days.by_month_kind()``."""
    first_weekday, length = monthrange(year, month)  # Monday = 0
    return month_kind(length, (first_weekday + 1) % 7)


def _date_of(day_index: int) -> tuple[int, int, int]:
    """(year, month, day) of a day counted from 1970-01-01."""
    when = date.fromordinal(EPOCH_ORDINAL + day_index)
    return when.year, when.month, when.day


# --- the schedule ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # no __dict__: one per job, 100,000 jobs
class CronSchedule:
    """A cron expression in a zone; build one with ``parse_schedule``."""

    text: str
    tz: tzinfo
    fixed_time: bool
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days: Days
    is_reboot: bool = False
    # The matching days of each kind of month (see _kind_of), taken from ``days`` at
    # construction: the hot path is one cached lookup and one index.
    _by_kind: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_kind", self.days.by_month_kind())

    @classmethod
    def of(cls, text: str, tz: tzinfo, fields: CronFields) -> CronSchedule:
        return cls(
            text=text,
            tz=tz,
            fixed_time=fields.fixed_time,
            seconds=fields.seconds,
            minutes=fields.minutes,
            hours=fields.hours,
            months=fields.months,
            days=fields.days,
        )

    # -- the Schedule protocol --------------------------------------------------------------

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        found = self._next_fire(seconds_of(after) + 1)
        return None if found is None else from_seconds(found)

    def next_times(
        self, after: datetime, n: int, *, anchor: datetime | None = None
    ) -> list[datetime]:
        return [from_seconds(s) for s in islice(self._fires(seconds_of(after) + 1), max(n, 0))]

    def fires_at(self, instant: datetime, *, anchor: datetime | None = None) -> bool:
        return self.next_after(instant - MICROSECOND) == instant

    def count_between(
        self, start: datetime, end: datetime, *, anchor: datetime | None = None, limit: int
    ) -> tuple[list[datetime], int]:
        first, last = seconds_of(start) + 1, seconds_of(end)
        found = [from_seconds(s) for s in islice(self._fires(first, last), limit)]
        return found, min(self._count(first, last), COUNT_CAP)

    def previous_fire(
        self, before: datetime, *, not_before: datetime, anchor: datetime | None = None
    ) -> datetime | None:
        # Fire times only come forwards: search windows before ``before`` that grow until one
        # holds a fire time, so a dense schedule never walks a long stretch.
        window = timedelta(seconds=64)
        floor = not_before - MICROSECOND
        last = seconds_of(before)
        while True:
            low = max(floor, before - window)
            latest = None
            for found in self._fires(seconds_of(low) + 1, last):
                latest = found
            if latest is not None or low == floor:
                return None if latest is None else from_seconds(latest)
            window *= 8

    # -- more questions ---------------------------------------------------------------------

    def matches_wall(self, wall: datetime) -> bool:
        """Whether a naive local wall time matches the expression (DST aside)."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.day in self._days_of(wall.year, wall.month)
        )

    # -- fire instants (POSIX seconds) ------------------------------------------------------

    def _fires(self, first: int, last: int | None = None) -> Iterator[int]:
        """Fire instants at or after ``first`` (and at or before ``last``), in order."""
        current = self._next_fire(first)
        while current is not None and (last is None or current <= last):
            yield current
            current = self._next_fire(current + 1)

    def _next_fire(self, start: int) -> int | None:
        """The first fire instant at or after ``start``.

        Walks the zone's segments of constant offset. Within one, wall = instant + offset;
        crossing a transition applies the DST rule to the walls it skips or repeats.
        """
        tz = self.tz
        since = start - 1  # the transitions that matter are those after this instant
        offset, low = first_wall(tz, start, self.fixed_time)
        while True:
            wall = self._next_wall(low)
            if wall is None:
                return None
            crossing = first_transition(tz, since, wall - offset)
            if crossing is None:
                return wall - offset
            jump, before, after = crossing
            if after > before:  # spring forward: walls [jump+before, jump+after) never happen
                if self.fixed_time and wall < jump + after:
                    return jump
                low = max(wall, jump + after)
            elif self.fixed_time:  # fall back: walls [jump+after, jump+before) happen again
                low = max(wall, jump + before)
            else:
                low = jump + after
            since, offset = jump, after

    def _count(self, start: int, end: int) -> int:
        """How many fire instants lie in [start, end], without visiting each.

        The same walk over segments as ``_next_fire``, counting the matching wall times of
        each segment arithmetically: a week of an every-second job costs what a day does.
        """
        tz = self.tz
        since = start - 1
        offset, low = first_wall(tz, start, self.fixed_time)
        total = 0
        while True:
            crossing = first_transition(tz, since, end)
            if crossing is None:
                return total + self._count_walls(low, end + offset)
            jump, before, after = crossing
            total += self._count_walls(low, jump - 1 + before)
            if after > before:
                low = jump + after
                if self.fixed_time and self._count_walls(jump + before, low - 1):
                    total += 1  # the gap's wall times run once, at the jump ...
                    low += 1  # ... which is also the instant of the first wall after it
            else:
                low = jump + (before if self.fixed_time else after)
            since, offset = jump, after

    # -- matching wall times (wall seconds, as if UTC) --------------------------------------

    def _days_of(self, year: int, month: int) -> tuple[int, ...]:
        return self._by_kind[_kind_of(year, month)] if month in self.months else ()

    def _next_wall(self, low: int) -> int | None:
        """The first matching wall time at or after ``low``."""
        days_since_epoch, time_of_day = divmod(low, DAY)
        today = date.fromordinal(EPOCH_ORDINAL + days_since_epoch)
        year, month, day = today.year, today.month, today.day
        months, by_kind = self.months, self._by_kind
        while year <= LAST_YEAR:
            if month not in months:
                index = bisect_right(months, month)
                if index == len(months):
                    year, month = year + 1, months[0]
                else:
                    month = months[index]
                day, time_of_day = 1, 0
            candidates = by_kind[_kind_of(year, month)]  # _days_of, inlined: month is in months
            index = bisect_left(candidates, day)
            if index < len(candidates):
                if candidates[index] != day:
                    day, time_of_day = candidates[index], 0
                found = self._time_from(time_of_day)
                if found is not None:
                    return day_start(year, month, day) + found
                if index + 1 < len(candidates):
                    day, time_of_day = candidates[index + 1], 0
                    return day_start(year, month, day) + self._first_time()
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            day, time_of_day = 1, 0
        return None

    def _first_time(self) -> int:
        return self.hours[0] * 3600 + self.minutes[0] * 60 + self.seconds[0]

    def _time_from(self, time_of_day: int) -> int | None:
        """The first matching time of day at or after ``time_of_day`` (seconds), if any."""
        hour, rest = divmod(time_of_day, 3600)
        minute, second = divmod(rest, 60)
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        h = bisect_left(hours, hour)
        if h < len(hours) and hours[h] == hour:
            m = bisect_left(minutes, minute)
            if m < len(minutes) and minutes[m] == minute:
                s = bisect_left(seconds, second)
                if s < len(seconds):
                    return hour * 3600 + minute * 60 + seconds[s]
                m += 1
            if m < len(minutes):
                return hour * 3600 + minutes[m] * 60 + seconds[0]
            h += 1
        if h < len(hours):
            return hours[h] * 3600 + minutes[0] * 60 + seconds[0]
        return None

    def _count_walls(self, low: int, high: int) -> int:
        """Matching wall times in [low, high]."""
        if high < low:
            return 0
        first_day, first_time = divmod(low, DAY)
        last_day, last_time = divmod(high, DAY)
        if first_day == last_day:
            return self._day_matches(first_day) * (
                self._times_upto(last_time) - self._times_upto(first_time - 1)
            )
        per_day = self._times_upto(DAY - 1)
        return (
            self._day_matches(first_day) * (per_day - self._times_upto(first_time - 1))
            + self._matching_days(first_day + 1, last_day - 1) * per_day
            + self._day_matches(last_day) * self._times_upto(last_time)
        )

    def _times_upto(self, time_of_day: int) -> int:
        """How many matching times of day are at or before ``time_of_day``."""
        if time_of_day < 0:
            return 0
        hour, rest = divmod(time_of_day, 3600)
        minute, second = divmod(rest, 60)
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        h = bisect_left(hours, hour)
        count = h * len(minutes) * len(seconds)
        if h < len(hours) and hours[h] == hour:
            m = bisect_left(minutes, minute)
            count += m * len(seconds)
            if m < len(minutes) and minutes[m] == minute:
                count += bisect_right(seconds, second)
        return count

    def _day_matches(self, day_index: int) -> bool:
        year, month, day = _date_of(day_index)
        return day in self._days_of(year, month)

    def _matching_days(self, first: int, last: int) -> int:
        """How many days with index (days since 1970-01-01) in [first, last] match."""
        if last < first:
            return 0
        start, stop = _date_of(first), _date_of(last)
        year, month, count = start[0], start[1], 0
        while (year, month) <= stop[:2]:
            days = self._days_of(year, month)
            low = start[2] if (year, month) == start[:2] else 1
            high = stop[2] if (year, month) == stop[:2] else 31
            count += bisect_right(days, high) - bisect_left(days, low)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return count
