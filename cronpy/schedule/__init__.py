"""Schedules: cron expressions, fixed intervals, one-shot times, and when each fires next.

Every schedule is a pure function of time: given an instant (and, for intervals, the
instant the job first appeared) it names the next fire instant in UTC and touches
nothing else.

Cron expressions are evaluated on *local wall times* in the job's zone and mapped to
instants with the daylight-saving rule of DESIGN §3 (Debian cron's): a fixed-time job
whose wall time falls in a spring-forward gap runs once at the instant of the jump, and
once, at the first occurrence, when a fall-back repeats it; other jobs run at every wall
time that exists, as often as it exists. All arithmetic is on integer POSIX seconds, never
on aware datetimes sharing one zone (Python compares those by wall time and ignores fold).

The cron grammar is the one croniter accepts (ranges, steps, lists, names, ``L``, ``W``,
``#``, ``H``), parsed and iterated here rather than by croniter, because croniter gets
what matters wrong or slowly: day-of-month/day-of-week use OR even for ``*/2`` (Vixie
ANDs any field starting with ``*``), its 6-field form puts seconds last, ``5-5`` means
every value and ``*/61`` silently means 0, its public ``expand`` drops ``W``, its DST
handling runs fixed-time jobs twice on fall-back, and one ``get_next`` costs more than the
~50 µs per job the runner can afford at startup. The tests use croniter as an oracle.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo

from cronpy.errors import DurationError, ScheduleError
from cronpy.interfaces import Schedule
from cronpy.model.durations import format_duration, parse_duration

COUNT_CAP = 100_000
"""``count_between`` stops counting here: past it, the exact number no longer matters."""

# --- instants as integer seconds ---------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_DAY = 86_400
_LAST_YEAR = 9998  # searching stops here, a year short of datetime's limit


def _seconds(when: datetime) -> int:
    """Whole POSIX seconds at or before ``when``."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {when!r}")
    return (when - _EPOCH) // _SECOND


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {when!r}")
    return when.astimezone(UTC)


def _instant(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _offset(tz: tzinfo, seconds: int) -> int:
    """The zone's UTC offset, in seconds, at an instant."""
    offset = _instant(seconds).astimezone(tz).utcoffset()
    return 0 if offset is None else offset // _SECOND


def _year_of(seconds: int) -> int:
    return date.fromordinal(_EPOCH_ORDINAL + seconds // _DAY).year


def _day_start(year: int, month: int, day: int) -> int:
    return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * _DAY


# --- zone transitions --------------------------------------------------------------------

_PROBE = 6 * 3600
_LOOKBACK = 2 * _DAY  # longer than any fall-back in the tz database (23 h, Kwajalein 1969)


@lru_cache(maxsize=2048)
def _year_transitions(tz: tzinfo, year: int) -> tuple[tuple[int, int, int], ...]:
    """(instant, offset before, offset after) of each offset change in (Jan 1, next Jan 1].

    zoneinfo keeps its transition table private, so probe every 6 hours and bisect each
    change to the second. That needs changes at least 6 hours apart, which they have been
    in every zone of the tz database since 1900.
    """
    if not 1 <= year <= _LAST_YEAR:
        return ()
    start, end = _day_start(year, 1, 1), _day_start(year + 1, 1, 1)
    found: list[tuple[int, int, int]] = []
    t, offset = start, _offset(tz, start)
    while t < end:
        probe = min(t + _PROBE, end)
        probed = _offset(tz, probe)
        if probed != offset:
            low, high = t, probe
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(tz, middle) == offset:
                    low = middle
                else:
                    high = middle
            found.append((high, offset, _offset(tz, high)))
        t, offset = probe, probed
    return tuple(found)


def _transitions(tz: tzinfo, after: int, until: int) -> list[tuple[int, int, int]]:
    """Every transition T with ``after < T <= until``, in order."""
    found: list[tuple[int, int, int]] = []
    if until <= after:
        return found
    for year in range(_year_of(after), min(_year_of(until), _LAST_YEAR) + 1):
        found.extend(tr for tr in _year_transitions(tz, year) if after < tr[0] <= until)
    return found


def _first_transition(tz: tzinfo, after: int, until: int) -> tuple[int, int, int] | None:
    if until <= after:
        return None
    for year in range(_year_of(after), min(_year_of(until), _LAST_YEAR) + 1):
        for tr in _year_transitions(tz, year):
            if after < tr[0] <= until:
                return tr
    return None


def _localize(naive: datetime, tz: tzinfo) -> datetime:
    """The instant of a local wall time, by the fixed-time rule: the first occurrence of a
    repeated time, the instant of the jump for a time that does not exist."""
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first <= second:
        return first
    jump = _first_transition(tz, _seconds(second) - 1, _seconds(first))
    return first if jump is None else _instant(jump[0])


# --- cron fields ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int  # highest value accepted as written (7 for day-of-week: Sunday again)
    top: int  # highest distinct value: where "*" and wrapped ranges stop
    names: Mapping[str, int]
    hash_top: int  # H picks from low..hash_top (28 for day-of-month: fires every month)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SEC = _Field("second", 0, 59, 59, {}, 59)
_MIN = _Field("minute", 0, 59, 59, {}, 59)
_HOUR = _Field("hour", 0, 23, 23, {}, 23)
_DOM = _Field("day-of-month", 1, 31, 31, {}, 28)
_MONTH = _Field("month", 1, 12, 12, {n: i for i, n in enumerate(_MONTHS, 1)}, 12)
_DOW = _Field("day-of-week", 0, 7, 6, {n: i for i, n in enumerate(_WEEKDAYS)}, 6)

_I = re.IGNORECASE | re.ASCII
_RANGE = re.compile(r"(?P<start>\*|[a-z0-9]+)(?:-(?P<end>[a-z0-9]+))?(?:/(?P<step>[a-z0-9]+))?", _I)
_HASHED = re.compile(
    r"h(?:\((?P<start>[a-z0-9]+)-(?P<end>[a-z0-9]+)\))?(?:/(?P<step>[a-z0-9]+))?", _I
)
_NEAREST = re.compile(r"([0-9]+)w|w([0-9]+)", _I)
_NTH = re.compile(r"([a-z0-9]+)#([0-9]+)", _I)
_LAST_WEEKDAY = re.compile(r"l([a-z0-9]+)|([a-z0-9]+)l", _I)

_SHAPES = {
    "day-of-month": ', "L" (last day), "15W" (weekday nearest the 15th)',
    "day-of-week": ', "5#3" (third Friday), "5L" (last Friday)',
}

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EXPECTED = (
    "expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, "
    f'a macro ({", ".join([*_MACROS, "@reboot"])}) or "every <duration>"'
)


class _FieldError(Exception):
    """A problem in one field; parse_schedule adds the expression around it."""


@dataclass
class _Parsed:
    values: set[int] = field(default_factory=set)
    last_day: bool = False
    nearest: set[int] = field(default_factory=set)
    nth: set[tuple[int, int]] = field(default_factory=set)  # (weekday, n); n = -1 is "last"


def _value(spec: _Field, token: str) -> int:
    if token.isascii() and token.isdigit():
        number = int(token)
    elif token.lower() in spec.names:
        number = spec.names[token.lower()]
    else:
        names = list(spec.names)
        hint = f" or a name ({names[0]}-{names[-1]})" if names else ""
        raise _FieldError(f'{spec.name} "{token}" is not a number{hint}')
    if not spec.low <= number <= spec.high:
        raise _FieldError(f"{spec.name} value {number} is out of range {spec.low}-{spec.high}")
    return number


def _step(spec: _Field, token: str) -> int:
    if not (token.isascii() and token.isdigit()):
        raise _FieldError(f'{spec.name} step "{token}" is not a whole number')
    step = int(token)
    if step < 1:
        raise _FieldError(f"{spec.name} step {step} must be at least 1")
    if step > spec.top - spec.low + 1:
        raise _FieldError(f"{spec.name} step {step} is larger than the range {spec.low}-{spec.top}")
    return step


def _span(spec: _Field, start: int, end: int, step: int) -> list[int]:
    """start..end stepped; a range that runs backwards wraps around ("22-2" hours, "fri-mon")."""
    if start <= end:
        values = list(range(start, end + 1))
    else:
        values = list(range(start, spec.top + 1)) + list(range(spec.low, end + 1))
    return values[::step]


def _hashed(spec: _Field, match: re.Match[str], job_name: str) -> list[int]:
    # sha256 rather than hash(): the value must not change between processes or restarts
    digest = hashlib.sha256(f"{spec.name}\0{job_name}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    low, high = spec.low, spec.hash_top
    if match["start"] is not None:
        low, high = _value(spec, match["start"]), _value(spec, match["end"])
        if low > high:
            raise _FieldError(f'{spec.name} "{match[0]}": the range must go upward')
    if match["step"] is None:
        return [low + number % (high - low + 1)]
    step = _step(spec, match["step"])
    return list(range(low + number % min(step, high - low + 1), high + 1, step))


def _parse_item(spec: _Field, item: str, job_name: str, into: _Parsed) -> None:
    if match := _HASHED.fullmatch(item):
        into.values.update(v % 7 if spec is _DOW else v for v in _hashed(spec, match, job_name))
        return
    if spec is _DOM:
        if item.lower() == "l":
            into.last_day = True
            return
        if match := _NEAREST.fullmatch(item):
            into.nearest.add(_value(spec, match[1] or match[2]))
            return
    if spec is _DOW:
        if match := _NTH.fullmatch(item):
            n = int(match[2])
            if not 1 <= n <= 5:
                raise _FieldError(f'day-of-week "{item}": the number after # must be 1-5')
            into.nth.add((_value(spec, match[1]) % 7, n))
            return
        if match := _LAST_WEEKDAY.fullmatch(item):
            into.nth.add((_value(spec, match[1] or match[2]) % 7, -1))
            return
    match = _RANGE.fullmatch(item)
    if match is None:
        raise _FieldError(
            f'{spec.name} "{item}" is not a value, range, step or list '
            f"(like 5, 1-5, */15, 1,3,5{_SHAPES.get(spec.name, '')})"
        )
    step = 1 if match["step"] is None else _step(spec, match["step"])
    if match["start"] == "*":
        if match["end"] is not None:
            raise _FieldError(f'{spec.name} "{item}": "*" cannot start a range')
        into.values.update(range(spec.low, spec.top + 1, step))
        return
    start = _value(spec, match["start"])
    if match["end"] is None and match["step"] is None:
        into.values.add(start % 7 if spec is _DOW else start)
        return
    end = spec.top if match["end"] is None else _value(spec, match["end"])
    values = _span(spec, start, end, step)
    into.values.update(v % 7 if spec is _DOW else v for v in values)


def _parse_field(spec: _Field, text: str, job_name: str) -> _Parsed:
    parsed = _Parsed()
    if text == "?":
        if spec not in (_DOM, _DOW):
            raise _FieldError(f'{spec.name} cannot be "?" (only day-of-month and day-of-week)')
        parsed.values.update(range(spec.low, spec.top + 1))
        return parsed
    for item in text.split(","):
        if not item:
            raise _FieldError(f'{spec.name} "{text}" has an empty list item')
        _parse_item(spec, item, job_name, parsed)
    return parsed


# --- which days match --------------------------------------------------------------------


@dataclass(frozen=True)
class _Days:
    """The day-of-month and day-of-week fields together, combined as Vixie cron does."""

    dom: frozenset[int]
    last_day: bool
    nearest: frozenset[int]
    dow: frozenset[int]  # 0 = Sunday
    nth: frozenset[tuple[int, int]]
    either: bool  # OR when both fields are restricted; AND when either starts with "*"

    def matching(self, year: int, month: int) -> tuple[int, ...]:
        return _matching_days(self, year, month)


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    day = min(day, length)
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:
        return day - 1 if day > 1 else day + 2
    if weekday == 6:
        return day + 1 if day < length else day - 2
    return day


@lru_cache(maxsize=8192)
def _matching_days(days: _Days, year: int, month: int) -> tuple[int, ...]:
    first_weekday, length = monthrange(year, month)
    first_weekday = (first_weekday + 1) % 7  # cron counts from Sunday
    nearest = {_nearest_weekday(year, month, d, length) for d in days.nearest}
    found = []
    for day in range(1, length + 1):
        weekday = (first_weekday + day - 1) % 7
        by_date = day in days.dom or day in nearest or (days.last_day and day == length)
        by_weekday = (
            weekday in days.dow
            or (weekday, (day - 1) // 7 + 1) in days.nth
            or (day + 7 > length and (weekday, -1) in days.nth)
        )
        if (by_date or by_weekday) if days.either else (by_date and by_weekday):
            found.append(day)
    return tuple(found)


def _ever_matches(days: _Days, months: Sequence[int]) -> bool:
    # A month's matching days depend only on its length and the weekday of its 1st, and
    # 2024-2051 (28 years, no skipped leap year) holds every combination of those.
    return any(days.matching(year, month) for year in range(2024, 2052) for month in months)


# --- cron schedules ----------------------------------------------------------------------


@dataclass(frozen=True)
class CronSchedule:
    text: str
    tz: tzinfo
    fixed_time: bool
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days: _Days
    is_reboot: bool = False
    _month_days: dict[int, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        found = self._next_fire(_seconds(after) + 1)
        return None if found is None else _instant(found)

    def matches_wall(self, wall: datetime) -> bool:
        """Whether a naive local wall time matches the expression (DST aside)."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.day in self._days_of(wall.year, wall.month)
        )

    def _days_of(self, year: int, month: int) -> tuple[int, ...]:
        key = year * 12 + month
        days = self._month_days.get(key)
        if days is None:
            days = self.days.matching(year, month) if month in self.months else ()
            self._month_days[key] = days
        return days

    def _next_fire(self, start: int) -> int | None:
        """The first fire instant at or after ``start`` (POSIX seconds).

        Walks the zone's segments of constant offset. Within one, wall = instant + offset;
        crossing a transition applies the DST rule to the walls it skips or repeats.
        """
        tz = self.tz
        since = start - 1  # the transitions that matter are those after this instant
        offset = _offset(tz, since)
        low = start + offset  # the first wall time to consider
        if self.fixed_time:
            # starting inside the second pass of a fall-back: its wall times already ran
            past = _transitions(tz, since - _LOOKBACK, since)
            if past and past[-1][1] > past[-1][2]:
                low = max(low, past[-1][0] + past[-1][1])
        while True:
            wall = self._next_wall(low)
            if wall is None:
                return None
            crossing = _first_transition(tz, since, wall - offset)
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

    def count(self, start: int, end: int) -> int:
        """How many fire instants lie in [start, end] (POSIX seconds), without visiting each.

        The same walk over segments as ``_next_fire``, counting the matching wall times of
        each segment arithmetically: a week of an every-second job costs what a day does.
        """
        tz = self.tz
        since = start - 1
        offset = _offset(tz, since)
        low = start + offset
        if self.fixed_time:
            past = _transitions(tz, since - _LOOKBACK, since)
            if past and past[-1][1] > past[-1][2]:
                low = max(low, past[-1][0] + past[-1][1])
        total = 0
        while True:
            crossing = _first_transition(tz, since, end)
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

    def _count_walls(self, low: int, high: int) -> int:
        """Matching wall times in [low, high] (wall seconds)."""
        if high < low:
            return 0
        first_day, first_time = divmod(low, _DAY)
        last_day, last_time = divmod(high, _DAY)
        if first_day == last_day:
            return self._day_matches(first_day) * (
                self._times_upto(last_time) - self._times_upto(first_time - 1)
            )
        per_day = self._times_upto(_DAY - 1)
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

    def _day_matches(self, day: int) -> bool:
        when = date.fromordinal(_EPOCH_ORDINAL + day)
        return when.day in self._days_of(when.year, when.month)

    def _matching_days(self, first: int, last: int) -> int:
        """How many days with index (days since 1970-01-01) in [first, last] match."""
        if last < first:
            return 0
        start = date.fromordinal(_EPOCH_ORDINAL + first)
        stop = date.fromordinal(_EPOCH_ORDINAL + last)
        year, month, count = start.year, start.month, 0
        while (year, month) <= (stop.year, stop.month):
            days = self._days_of(year, month)
            low = start.day if (year, month) == (start.year, start.month) else 1
            high = stop.day if (year, month) == (stop.year, stop.month) else 31
            count += bisect_right(days, high) - bisect_left(days, low)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return count

    def _next_wall(self, low: int) -> int | None:
        """The first matching wall time at or after ``low`` (wall seconds, as if UTC)."""
        days_since_epoch, time_of_day = divmod(low, _DAY)
        today = date.fromordinal(_EPOCH_ORDINAL + days_since_epoch)
        year, month, day = today.year, today.month, today.day
        months = self.months
        while year <= _LAST_YEAR:
            if month not in months:
                index = bisect_right(months, month)
                if index == len(months):
                    year, month = year + 1, months[0]
                else:
                    month = months[index]
                day, time_of_day = 1, 0
            candidates = self._days_of(year, month)
            index = bisect_left(candidates, day)
            if index < len(candidates):
                if candidates[index] != day:
                    day, time_of_day = candidates[index], 0
                found = self._time_from(time_of_day)
                if found is not None:
                    return _day_start(year, month, day) + found
                if index + 1 < len(candidates):
                    day, time_of_day = candidates[index + 1], 0
                    return _day_start(year, month, day) + self._first_time()
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


def _cron(text: str, fields: list[str], tz: tzinfo, job_name: str) -> CronSchedule:
    specs: tuple[_Field, ...] = (_MIN, _HOUR, _DOM, _MONTH, _DOW)
    if len(fields) == 6:
        specs = (_SEC, *specs)
    parsed = [_parse_field(spec, f, job_name) for spec, f in zip(specs, fields, strict=True)]
    *times, dom, month, dow = parsed
    seconds = times[0].values if len(times) == 3 else {0}
    dom_text, dow_text = fields[-3], fields[-1]
    days = _Days(
        dom=frozenset(dom.values),
        last_day=dom.last_day,
        nearest=frozenset(dom.nearest),
        dow=frozenset(dow.values),
        nth=frozenset(dow.nth),
        either=not (dom_text[0] in "*?" or dow_text[0] in "*?"),
    )
    months = tuple(sorted(month.values))
    if not _ever_matches(days, months):
        weekday = "" if dow_text in ("*", "?") else f' and day-of-week "{dow_text}"'
        raise _FieldError(
            f'it never fires: no date has day-of-month "{dom_text}"{weekday} '
            f'in month "{fields[-2]}"'
        )
    return CronSchedule(
        text=text,
        tz=tz,
        fixed_time=not any(f.startswith("*") for f in fields[: len(times)]),
        seconds=tuple(sorted(seconds)),
        minutes=tuple(sorted(times[-2].values)),
        hours=tuple(sorted(times[-1].values)),
        months=months,
        days=days,
    )


# --- the other kinds ---------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalSchedule:
    """``every 15m``: fires at anchor + k * every (k >= 1), in elapsed time; DST is irrelevant."""

    text: str
    every: timedelta
    fixed_time: bool = False
    is_reboot: bool = False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        base = _utc(after if anchor is None else anchor)
        k = max(1, (_utc(after) - base) // self.every + 1)
        return base + k * self.every

    def previous(self, before: datetime, anchor: datetime) -> datetime | None:
        base = _utc(anchor)
        k = (_utc(before) - base) // self.every
        return base + k * self.every if k >= 1 else None

    def between(
        self, start: datetime, end: datetime, anchor: datetime, limit: int
    ) -> tuple[list[datetime], int]:
        base = _utc(anchor)
        first = max(1, (_utc(start) - base) // self.every + 1)
        last = (_utc(end) - base) // self.every
        total = max(0, last - first + 1)
        times = [base + k * self.every for k in range(first, first + min(limit, total))]
        return times, min(total, COUNT_CAP)


@dataclass(frozen=True)
class AtSchedule:
    """One-shot times, sorted and distinct, in UTC."""

    text: str
    instants: tuple[datetime, ...]
    fixed_time: bool = True
    is_reboot: bool = False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        index = bisect_right(self.instants, _utc(after))
        return self.instants[index] if index < len(self.instants) else None


@dataclass(frozen=True)
class RebootSchedule:
    """``@reboot``: never fires on the clock; the runner starts it once per boot."""

    text: str = "@reboot"
    fixed_time: bool = False
    is_reboot: bool = True

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        return None


# --- parsing -----------------------------------------------------------------------------


def parse_schedule(text: str, *, tz: ZoneInfo, job_name: str = "") -> Schedule:
    """Parse a ``schedule`` string (DESIGN §3). Raises ScheduleError naming what is wrong."""
    # H is the only thing that depends on the job's name; don't split the cache on it otherwise
    return _parse_cached(text, tz, job_name if _USES_HASH.search(text) else "")


_USES_HASH = re.compile(r"(?:^|[\s,])[hH]")


@lru_cache(maxsize=4096)
def _parse_cached(text: str, tz: tzinfo, job_name: str) -> Schedule:
    words = text.split()
    try:
        if not words:
            raise _FieldError(f"it is empty; {_EXPECTED}")
        first = words[0].lower()
        if first == "every":
            return _interval(text, words)
        if len(words) == 1 and first.startswith("@"):
            if first == "@reboot":
                return RebootSchedule(text)
            if first not in _MACROS:
                raise _FieldError(f'unknown macro "{words[0]}"; {_EXPECTED}')
            return _cron(text, _MACROS[first].split(), tz, job_name)
        if len(words) not in (5, 6):
            raise _FieldError(f"{_EXPECTED}; got {len(words)} field{'s' * (len(words) != 1)}")
        return _cron(text, words, tz, job_name)
    except _FieldError as exc:
        raise ScheduleError(f'invalid schedule "{text}": {exc}') from None


def _interval(text: str, words: list[str]) -> IntervalSchedule:
    if len(words) != 2:
        raise _FieldError('expected "every <duration>", like "every 30s" or "every 1h30m"')
    try:
        seconds = parse_duration(words[1])
    except DurationError as exc:
        raise _FieldError(str(exc)) from None
    if seconds < 1:
        raise _FieldError(f"the interval {format_duration(seconds)} is shorter than 1s")
    return IntervalSchedule(text, timedelta(seconds=seconds))


def parse_at(values: Sequence[str], *, tz: ZoneInfo) -> Schedule:
    """One-shot times in ISO 8601; naive ones are wall times in ``tz`` (DST rule applied)."""
    if isinstance(values, str) or not values:
        raise ScheduleError(
            'invalid "at": expected a list of one or more ISO 8601 times, like ["2026-12-24T18:00"]'
        )
    instants = set()
    for value in values:
        try:
            when = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise ScheduleError(
                f'invalid "at" time {value!r}: expected ISO 8601, like "2026-12-24T18:00" '
                'or "2026-12-24T18:00:00+01:00"'
            ) from None
        instants.add(_localize(when, tz) if when.tzinfo is None else when.astimezone(UTC))
    return AtSchedule("at " + ", ".join(values), tuple(sorted(instants)))


# --- questions asked of any schedule -----------------------------------------------------


def next_times(
    schedule: Schedule, after: datetime, n: int, *, anchor: datetime | None = None
) -> list[datetime]:
    """The next ``n`` fire instants strictly after ``after`` (fewer if it stops firing)."""
    anchor = after if anchor is None else anchor  # one cadence for the whole list
    found: list[datetime] = []
    current: datetime | None = after
    while len(found) < n and current is not None:
        current = schedule.next_after(current, anchor=anchor)
        if current is not None:
            found.append(current)
    return found


def fires_at(schedule: Schedule, instant: datetime, *, anchor: datetime | None = None) -> bool:
    """Whether ``instant`` is one of the schedule's fire times (intervals need their anchor)."""
    return schedule.next_after(instant - _MICROSECOND, anchor=anchor) == instant


def count_between(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    anchor: datetime | None = None,
    limit: int,
) -> tuple[list[datetime], int]:
    """Up to ``limit`` fire instants in (start, end], and how many there are (at most COUNT_CAP)."""
    if isinstance(schedule, IntervalSchedule):
        return schedule.between(start, end, start if anchor is None else anchor, limit)
    found = list(islice(_fires(schedule, start, end, anchor), limit))
    if isinstance(schedule, CronSchedule):
        total = schedule.count(_seconds(start) + 1, _seconds(end))
    elif isinstance(schedule, AtSchedule):
        instants = schedule.instants
        total = bisect_right(instants, _utc(end)) - bisect_right(instants, _utc(start))
    else:
        total = sum(1 for _ in islice(_fires(schedule, start, end, anchor), COUNT_CAP))
    return found, min(total, COUNT_CAP)


def previous_fire(
    schedule: Schedule,
    before: datetime,
    *,
    not_before: datetime,
    anchor: datetime | None = None,
) -> datetime | None:
    """The latest fire instant in [not_before, before], or None.

    An interval's cadence comes from ``anchor`` (the job's first appearance); without one
    it is counted from ``not_before``.
    """
    if isinstance(schedule, IntervalSchedule):
        found = schedule.previous(before, not_before if anchor is None else anchor)
        return found if found is not None and found >= not_before else None
    # Schedules only run forwards: search windows before ``before`` that grow until one
    # holds a fire time, so a dense schedule never walks a long stretch.
    window = timedelta(seconds=64)
    floor = not_before - _MICROSECOND
    while True:
        low = max(floor, before - window)
        latest = None
        for instant in _fires(schedule, low, before, anchor):
            latest = instant
        if latest is not None or low == floor:
            return latest
        window *= 8


def _fires(
    schedule: Schedule, start: datetime, end: datetime, anchor: datetime | None
) -> Iterable[datetime]:
    """Fire instants in (start, end], in order."""
    if isinstance(schedule, CronSchedule):  # whole seconds all the way, no datetimes between
        last = _seconds(end)
        current = schedule._next_fire(_seconds(start) + 1)
        while current is not None and current <= last:
            yield _instant(current)
            current = schedule._next_fire(current + 1)
        return
    anchor = start if anchor is None else anchor
    current_dt = schedule.next_after(start, anchor=anchor)
    while current_dt is not None and current_dt <= end:
        yield current_dt
        current_dt = schedule.next_after(current_dt, anchor=anchor)
