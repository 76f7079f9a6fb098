"""Schedules: cron expressions, fixed intervals, one-shot times, and when each fires next.

Every schedule is a pure function of time: given an instant (and, for intervals, the
instant the job first appeared) it names the next fire instant in UTC and touches
nothing else. Each kind answers the questions of ``cronpy.interfaces.Schedule`` itself;
the functions here are the same questions asked of any schedule.

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

- ``parse``: the grammar and its error messages;
- ``zones``: instants as seconds, zone transitions, the DST rule;
- ``cron``: ``CronSchedule``;
- ``kinds``: ``IntervalSchedule`` (``every``), ``AtSchedule``, ``RebootSchedule``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronpy.errors import ScheduleError
from cronpy.interfaces import COUNT_CAP, Schedule
from cronpy.schedule.cron import CronSchedule
from cronpy.schedule.kinds import AtSchedule, IntervalSchedule, RebootSchedule
from cronpy.schedule.parse import (
    EXPECTED,
    MACROS,
    FieldError,
    bare_hash,
    parse_cron,
    parse_every,
)
from cronpy.schedule.zones import localize

__all__ = [
    "COUNT_CAP",
    "AtSchedule",
    "CronSchedule",
    "IntervalSchedule",
    "RebootSchedule",
    "Schedule",
    "count_between",
    "fires_at",
    "next_times",
    "parse_at",
    "parse_schedule",
    "previous_fire",
]


# --- parsing -----------------------------------------------------------------------------


def parse_schedule(text: str, *, tz: ZoneInfo, job_name: str = "") -> Schedule:
    """Parse a ``schedule`` string (DESIGN §3). Raises ScheduleError naming what is wrong."""
    # H is the only thing that depends on the job's name; don't split the cache on it otherwise
    if not _USES_HASH.search(text):
        return _parse_cached(text, tz, "")
    shape = _bare_hash_shape(text, tz)
    if shape is None:
        return _parse_cached(text, tz, job_name)
    template, hashed = shape
    seconds, minutes, hours = template.seconds, template.minutes, template.hours
    if "second" in hashed:
        seconds = bare_hash("second", job_name)
    if "minute" in hashed:
        minutes = bare_hash("minute", job_name)
    if "hour" in hashed:
        hours = bare_hash("hour", job_name)
    return CronSchedule(
        text=text,
        tz=tz,
        fixed_time=template.fixed_time,
        seconds=seconds,
        minutes=minutes,
        hours=hours,
        months=template.months,
        days=template.days,
    )


_USES_HASH = re.compile(r"(?:^|[\s,])[hH]")
_TIME_UNITS = {5: ("minute", "hour"), 6: ("second", "minute", "hour")}


@lru_cache(maxsize=1024)
def _bare_hash_shape(text: str, tz: tzinfo) -> tuple[CronSchedule, tuple[str, ...]] | None:
    """For an expression whose only ``H`` are whole time fields ("H H * * *"): the schedule as
    parsed for any name, and those fields. Each job then only hashes its name into them: the
    rest is the same for 100,000 jobs. None for anything else (the general parser's case)."""
    words = text.split()
    units = _TIME_UNITS.get(len(words))
    if units is None:
        return None
    hashed = tuple(unit for unit, word in zip(units, words, strict=False) if word in ("H", "h"))
    others = [word for word in words if word not in ("H", "h")] + words[len(units) :]
    if any(_USES_HASH.search(word) for word in others):
        return None
    try:
        template = _parse_cached(text, tz, "")
    except ScheduleError:  # the general parser reports it, for each job
        return None
    return (template, hashed) if isinstance(template, CronSchedule) else None


@lru_cache(maxsize=4096)
def _parse_cached(text: str, tz: tzinfo, job_name: str) -> Schedule:
    words = text.split()
    try:
        if not words:
            raise FieldError(f"it is empty; {EXPECTED}")
        first = words[0].lower()
        if first == "every":
            return IntervalSchedule(text, parse_every(words))
        if len(words) == 1 and first.startswith("@"):
            if first == "@reboot":
                return RebootSchedule(text)
            if first not in MACROS:
                raise FieldError(f'unknown macro "{words[0]}"; {EXPECTED}')
            return CronSchedule.of(text, tz, parse_cron(MACROS[first].split(), job_name))
        if len(words) not in (5, 6):
            raise FieldError(f"{EXPECTED}; got {len(words)} field{'s' * (len(words) != 1)}")
        return CronSchedule.of(text, tz, parse_cron(words, job_name))
    except FieldError as exc:
        raise ScheduleError(f'invalid schedule "{text}": {exc}') from None


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
        instants.add(localize(when, tz) if when.tzinfo is None else when.astimezone(UTC))
    return AtSchedule("at " + ", ".join(values), tuple(sorted(instants)))


# --- questions asked of any schedule -----------------------------------------------------
# The Schedule protocol's questions as functions, for callers that hold a schedule and
# prefer to name the question first.


def next_times(
    schedule: Schedule, after: datetime, n: int, *, anchor: datetime | None = None
) -> list[datetime]:
    """The next ``n`` fire instants strictly after ``after`` (fewer if it stops firing)."""
    return schedule.next_times(after, n, anchor=anchor)


def fires_at(schedule: Schedule, instant: datetime, *, anchor: datetime | None = None) -> bool:
    """Whether ``instant`` is one of the schedule's fire times (intervals need their anchor)."""
    return schedule.fires_at(instant, anchor=anchor)


def count_between(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    anchor: datetime | None = None,
    limit: int,
) -> tuple[list[datetime], int]:
    """Up to ``limit`` fire instants in (start, end], and how many there are (at most COUNT_CAP)."""
    return schedule.count_between(start, end, anchor=anchor, limit=limit)


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
    return schedule.previous_fire(before, not_before=not_before, anchor=anchor)
