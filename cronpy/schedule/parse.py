"""The schedule grammar: cron fields, names, ranges, steps, lists, ``H``, macros, ``L``/``W``/``#``
and ``every <duration>``, each mistake reported with a message that names the field and value.

The grammar is the one croniter accepts, parsed here rather than by croniter because croniter
reads some of it differently from Vixie cron (``5-5`` means every value, ``*/61`` silently
means 0, 6-field expressions put seconds last); see ``cronpy.schedule``. Parsing yields plain
values (``CronFields``, a ``timedelta``); the schedule kinds are built from them elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar

from cronpy.digest import sha256
from cronpy.errors import DurationError
from cronpy.model.durations import format_duration, parse_duration

T = TypeVar("T")


class FieldError(Exception):
    """A problem in one part of a schedule; parse_schedule adds the expression around it."""


# --- the fields --------------------------------------------------------------------------


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

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EXPECTED = (
    "expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, "
    f'a macro ({", ".join([*MACROS, "@reboot"])}) or "every <duration>"'
)


@dataclass
class _Parsed:
    """What one field says, gathered item by item while it is parsed."""

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
        raise FieldError(f'{spec.name} "{token}" is not a number{hint}')
    if not spec.low <= number <= spec.high:
        raise FieldError(f"{spec.name} value {number} is out of range {spec.low}-{spec.high}")
    return number


def _step(spec: _Field, token: str) -> int:
    if not (token.isascii() and token.isdigit()):
        raise FieldError(f'{spec.name} step "{token}" is not a whole number')
    step = int(token)
    if step < 1:
        raise FieldError(f"{spec.name} step {step} must be at least 1")
    if step > spec.top - spec.low + 1:
        raise FieldError(f"{spec.name} step {step} is larger than the range {spec.low}-{spec.top}")
    return step


def _span(spec: _Field, start: int, end: int, step: int) -> list[int]:
    """start..end stepped; a range that runs backwards wraps around ("22-2" hours, "fri-mon")."""
    if start <= end:
        values = list(range(start, end + 1))
    else:
        values = list(range(start, spec.top + 1)) + list(range(spec.low, end + 1))
    return values[::step]


def _hash_number(spec: _Field, job_name: str) -> int:
    # sha256 rather than hash(): the value must not change between processes or restarts
    digest = sha256(f"{spec.name}\0{job_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _hashed(spec: _Field, match: re.Match[str], job_name: str) -> list[int]:
    number = _hash_number(spec, job_name)
    low, high = spec.low, spec.hash_top
    if match["start"] is not None:
        low, high = _value(spec, match["start"]), _value(spec, match["end"])
        if low > high:
            raise FieldError(f'{spec.name} "{match[0]}": the range must go upward')
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
                raise FieldError(f'day-of-week "{item}": the number after # must be 1-5')
            into.nth.add((_value(spec, match[1]) % 7, n))
            return
        if match := _LAST_WEEKDAY.fullmatch(item):
            into.nth.add((_value(spec, match[1] or match[2]) % 7, -1))
            return
    match = _RANGE.fullmatch(item)
    if match is None:
        raise FieldError(
            f'{spec.name} "{item}" is not a value, range, step or list '
            f"(like 5, 1-5, */15, 1,3,5{_SHAPES.get(spec.name, '')})"
        )
    step = 1 if match["step"] is None else _step(spec, match["step"])
    if match["start"] == "*":
        if match["end"] is not None:
            raise FieldError(f'{spec.name} "{item}": "*" cannot start a range')
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
            raise FieldError(f'{spec.name} cannot be "?" (only day-of-month and day-of-week)')
        parsed.values.update(range(spec.low, spec.top + 1))
        return parsed
    for item in text.split(","):
        if not item:
            raise FieldError(f'{spec.name} "{text}" has an empty list item')
        _parse_item(spec, item, job_name, parsed)
    return parsed


# --- which days match --------------------------------------------------------------------
# A month's matching days depend only on its length (28-31) and the weekday of its 1st: 28
# kinds of month. Sets of days are bit masks here (bit d: day d), so tabulating all 28 takes
# about 10 µs, and the table is shared by every schedule with the same day fields.


@dataclass(frozen=True, slots=True)  # no __dict__: one per job, 100,000 jobs
class Days:
    """The day-of-month and day-of-week fields together, combined as Vixie cron does."""

    dom: frozenset[int]
    last_day: bool
    nearest: frozenset[int]
    dow: frozenset[int]  # 0 = Sunday
    nth: frozenset[tuple[int, int]]
    either: bool  # OR when both fields are restricted; AND when either starts with "*"

    def by_month_kind(self) -> tuple[tuple[int, ...], ...]:
        """The matching days of each kind of month, at ``month_kind(length, first_weekday)``."""
        return _by_month_kind(self)


def month_kind(length: int, first_weekday: int) -> int:
    """The index of a month with ``length`` days whose 1st is ``first_weekday`` (0 = Sunday)."""
    return (length - 28) * 7 + first_weekday


_WEEKLY = tuple(sum(1 << d for d in range(k + 1, 32, 7)) for k in range(7))
"""Days k+1, k+8, ... of a month: those on the weekday k days after the 1st's."""


def _nearest_weekday(day: int, length: int, first_weekday: int) -> int:
    day = min(day, length)
    weekday = (first_weekday + day - 1) % 7
    if weekday == 6:  # Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday
        return day + 1 if day < length else day - 2
    return day


@lru_cache(maxsize=1024)
def _by_month_kind(days: Days) -> tuple[tuple[int, ...], ...]:
    dom = sum(1 << d for d in days.dom)
    table: list[tuple[int, ...]] = [()] * 28
    for first in range(7):
        dow = 0
        for weekday in days.dow:
            dow |= _WEEKLY[(weekday - first) % 7]
        for length in range(28, 32):
            by_date, by_weekday = dom, dow
            for day in days.nearest:
                by_date |= 1 << _nearest_weekday(day, length, first)
            if days.last_day:
                by_date |= 1 << length
            for weekday, n in days.nth:
                day = (weekday - first) % 7 + 1  # the first such weekday of the month
                by_weekday |= 1 << (day + 7 * ((length - day) // 7 if n == -1 else n - 1))
            found = (by_date | by_weekday) if days.either else (by_date & by_weekday)
            table[month_kind(length, first)] = _days_in(found & ((2 << length) - 2))
    return tuple(table)


@lru_cache(maxsize=4096)
def _days_in(mask: int) -> tuple[int, ...]:
    return tuple(day for day in range(1, 32) if mask >> day & 1)


_LENGTHS = {m: (28, 29) if m == 2 else (30,) if m in (4, 6, 9, 11) else (31,) for m in range(1, 13)}


def _ever_matches(days: Days, months: Sequence[int]) -> bool:
    # every length a month can have occurs with its 1st on each weekday in some year
    table = days.by_month_kind()
    return any(
        table[month_kind(length, first)]
        for month in months
        for length in _LENGTHS[month]
        for first in range(7)
    )


# --- whole expressions -------------------------------------------------------------------


@dataclass(frozen=True)
class CronFields:
    """A parsed cron expression: the matching values of each field, sorted."""

    fixed_time: bool  # no time field starts with "*": the DST rule for fixed times applies
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days: Days


_SHARED: dict[object, Any] = {}


def _share(value: T) -> T:
    """One copy of each equal value. A hundred thousand jobs written ``H H * * *`` have equal
    day fields (about 2 KiB of sets each) and only 60 different minutes: keep one of each."""
    if len(_SHARED) > 65_536:  # reloads with ever new schedules: start over, never grow
        _SHARED.clear()
    found: T = _SHARED.setdefault(value, value)
    return found


def parse_cron(fields: Sequence[str], job_name: str) -> CronFields:
    """Five fields, or six with seconds first. ``job_name`` seeds ``H``."""
    specs: tuple[_Field, ...] = (_MIN, _HOUR) if len(fields) == 5 else (_SEC, _MIN, _HOUR)
    # left to right, so the first wrong field is the one reported
    times = [_time_values(spec, f, job_name) for spec, f in zip(specs, fields[:-3], strict=True)]
    dom_text, month_text, dow_text = fields[-3:]
    hashed = any(_HASH_ITEM.search(f) for f in fields[-3:])
    days, months = _day_fields(dom_text, month_text, dow_text, job_name if hashed else "")
    return CronFields(
        fixed_time=not any(f.startswith("*") for f in fields[: len(times)]),
        seconds=times[0] if len(times) == 3 else (0,),
        minutes=times[-2],
        hours=times[-1],
        months=months,
        days=days,
    )


# An item of a field that uses H. A field without one means the same for every job, so it is
# parsed once: 100,000 jobs written "H H * * *" share their "* * *".
_HASH_ITEM = re.compile(r"(?:^|,)h", _I)


def _time_values(spec: _Field, text: str, job_name: str) -> tuple[int, ...]:
    if text in ("H", "h"):  # the common case, as _hashed reads it, without the general parser
        return bare_hash(spec.name, job_name)
    if _HASH_ITEM.search(text):
        return _share(tuple(sorted(_parse_field(spec, text, job_name).values)))
    return _unhashed_time_values(spec.name, text)


def bare_hash(unit: str, job_name: str) -> tuple[int, ...]:
    """A time field written ``H`` ("second", "minute" or "hour"): the job's one value."""
    spec = _TIME_FIELDS[unit]
    span = spec.hash_top - spec.low + 1
    return _share((spec.low + _hash_number(spec, job_name) % span,))


_TIME_FIELDS = {s.name: s for s in (_SEC, _MIN, _HOUR)}


@lru_cache(maxsize=1024)
def _unhashed_time_values(spec_name: str, text: str) -> tuple[int, ...]:
    spec = _TIME_FIELDS[spec_name]
    return _share(tuple(sorted(_parse_field(spec, text, "").values)))


@lru_cache(maxsize=1024)
def _day_fields(
    dom_text: str, month_text: str, dow_text: str, job_name: str
) -> tuple[Days, tuple[int, ...]]:
    """The day fields, and the months; ``job_name`` is "" unless one of them uses H."""
    dom = _parse_field(_DOM, dom_text, job_name)
    month = _parse_field(_MONTH, month_text, job_name)
    dow = _parse_field(_DOW, dow_text, job_name)
    days = Days(
        dom=frozenset(dom.values),
        last_day=dom.last_day,
        nearest=frozenset(dom.nearest),
        dow=frozenset(dow.values),
        nth=frozenset(dow.nth),
        either=not (dom_text[0] in "*?" or dow_text[0] in "*?"),
    )
    days = _share(days)
    months = _share(tuple(sorted(month.values)))
    if not _ever_matches(days, months):
        weekday = "" if dow_text in ("*", "?") else f' and day-of-week "{dow_text}"'
        raise FieldError(
            f'it never fires: no date has day-of-month "{dom_text}"{weekday} '
            f'in month "{month_text}"'
        )
    return days, months


def parse_every(words: Sequence[str]) -> timedelta:
    """``every <duration>``, split into words: the interval."""
    if len(words) != 2:
        raise FieldError('expected "every <duration>", like "every 30s" or "every 1h30m"')
    try:
        seconds = parse_duration(words[1])
    except DurationError as exc:
        raise FieldError(str(exc)) from None
    if seconds < 1:
        raise FieldError(f"the interval {format_duration(seconds)} is shorter than 1s")
    return timedelta(seconds=seconds)
