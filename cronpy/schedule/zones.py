"""Instants as integer POSIX seconds, a zone's offset changes, and the daylight-saving rule.

Schedules do their arithmetic on whole seconds, never on aware datetimes sharing one zone
(Python compares those by wall time and ignores fold). This module converts between the two,
finds when a zone's UTC offset changes, and maps local wall times to instants by the rule of
DESIGN §3 (Debian cron's): a fixed-time wall time that falls in a spring-forward gap runs
once, at the instant of the jump; one that a fall-back repeats runs once, at its first
occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY = 86_400
LAST_YEAR = 9998  # searching stops here, a year short of datetime's limit
MICROSECOND = timedelta(microseconds=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)

Transition = tuple[int, int, int]
"""(instant, UTC offset before, UTC offset after), all in seconds."""


# --- instants as integer seconds ---------------------------------------------------------


def seconds_of(when: datetime) -> int:
    """Whole POSIX seconds at or before ``when``."""
    if when.tzinfo is None or when.utcoffset() is None:  # checked inline: this is the hot path
        raise ValueError(f"expected an aware datetime, got {when!r}")
    return (when - _EPOCH) // _SECOND


def as_utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {when!r}")
    return when.astimezone(UTC)


def from_seconds(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def offset_at(tz: tzinfo, seconds: int) -> int:
    """The zone's UTC offset, in seconds, at an instant."""
    offset = from_seconds(seconds).astimezone(tz).utcoffset()
    return 0 if offset is None else offset // _SECOND


def day_start(year: int, month: int, day: int) -> int:
    """Midnight of a date, in seconds: an instant in UTC, a wall time anywhere else."""
    return (date(year, month, day).toordinal() - EPOCH_ORDINAL) * DAY


def _year_of(seconds: int) -> int:
    return date.fromordinal(EPOCH_ORDINAL + seconds // DAY).year


# --- zone transitions --------------------------------------------------------------------

_PROBE = 6 * 3600
_LOOKBACK = 2 * DAY  # longer than any fall-back in the tz database (23 h, Kwajalein 1969)


@lru_cache(maxsize=2048)
def _year_transitions(tz: tzinfo, year: int) -> tuple[Transition, ...]:
    """Each offset change in (Jan 1, next Jan 1].

    zoneinfo keeps its transition table private, so probe every 6 hours and bisect each
    change to the second. That needs changes at least 6 hours apart, which they have been
    in every zone of the tz database since 1900.
    """
    if not 1 <= year <= LAST_YEAR:
        return ()
    start, end = day_start(year, 1, 1), day_start(year + 1, 1, 1)
    found: list[Transition] = []
    t, offset = start, offset_at(tz, start)
    while t < end:
        probe = min(t + _PROBE, end)
        probed = offset_at(tz, probe)
        if probed != offset:
            low, high = t, probe
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(tz, middle) == offset:
                    low = middle
                else:
                    high = middle
            found.append((high, offset, offset_at(tz, high)))
        t, offset = probe, probed
    return tuple(found)


def transitions(tz: tzinfo, after: int, until: int) -> list[Transition]:
    """Every transition T with ``after < T <= until``, in order."""
    found: list[Transition] = []
    if until <= after:
        return found
    for year in range(_year_of(after), min(_year_of(until), LAST_YEAR) + 1):
        found.extend(tr for tr in _year_transitions(tz, year) if after < tr[0] <= until)
    return found


def first_transition(tz: tzinfo, after: int, until: int) -> Transition | None:
    """The first transition T with ``after < T <= until``, if any."""
    if until <= after:
        return None
    for year in range(_year_of(after), min(_year_of(until), LAST_YEAR) + 1):
        for tr in _year_transitions(tz, year):
            if after < tr[0] <= until:
                return tr
    return None


# --- wall times and instants -------------------------------------------------------------


@lru_cache(maxsize=64)  # a start plans 100,000 jobs from one instant: the zone is read once
def first_wall(tz: tzinfo, start: int, fixed_time: bool) -> tuple[int, int]:
    """Where a walk over wall times begins, for fire instants at or after ``start``: the
    zone's offset just before ``start`` and the first wall time (seconds) to consider.

    A fixed-time walk that starts inside the second pass of a fall-back begins after it:
    those wall times already ran, in the first pass.
    """
    since = start - 1
    offset = offset_at(tz, since)
    low = start + offset
    if fixed_time:
        past = transitions(tz, since - _LOOKBACK, since)
        if past and past[-1][1] > past[-1][2]:
            low = max(low, past[-1][0] + past[-1][1])
    return offset, low


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """The instant of a local wall time, by the fixed-time rule: the first occurrence of a
    repeated time, the instant of the jump for a time that does not exist."""
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first <= second:
        return first
    jump = first_transition(tz, seconds_of(second) - 1, seconds_of(first))
    return first if jump is None else from_seconds(jump[0])
