"""The schedules that are not cron expressions: ``every <duration>``, ``at`` lists and
``@reboot``. Each answers the questions of the ``Schedule`` protocol by arithmetic or by
bisecting its instants; none of them depends on the zone once it is built.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from cronpy.interfaces import COUNT_CAP
from cronpy.schedule.zones import MICROSECOND, as_utc


def _whole_second(when: datetime) -> datetime:
    return when.replace(microsecond=0)


@dataclass(frozen=True)
class IntervalSchedule:
    """``every 15m``: fires at anchor + k * every (k >= 1), in elapsed time; DST is irrelevant.

    Without an anchor each question counts the cadence from the earliest instant it is given.
    The anchor is taken to its whole second, so fire times fall on whole seconds (a job first
    seen at 04:50:00.359 fires at 04:55:00, not 04:55:00.359).
    """

    text: str
    every: timedelta
    fixed_time: bool = False
    is_reboot: bool = False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        base = _whole_second(as_utc(after if anchor is None else anchor))
        return base + self._first_after(as_utc(after), base) * self.every

    def next_times(
        self, after: datetime, n: int, *, anchor: datetime | None = None
    ) -> list[datetime]:
        base = _whole_second(as_utc(after if anchor is None else anchor))
        first = self._first_after(as_utc(after), base)
        return [base + k * self.every for k in range(first, first + n)]

    def fires_at(self, instant: datetime, *, anchor: datetime | None = None) -> bool:
        return self.next_after(instant - MICROSECOND, anchor=anchor) == instant

    def count_between(
        self, start: datetime, end: datetime, *, anchor: datetime | None = None, limit: int
    ) -> tuple[list[datetime], int]:
        base = _whole_second(as_utc(start if anchor is None else anchor))
        first = self._first_after(as_utc(start), base)
        last = (as_utc(end) - base) // self.every
        total = max(0, last - first + 1)
        times = [base + k * self.every for k in range(first, first + min(limit, total))]
        return times, min(total, COUNT_CAP)

    def previous_fire(
        self, before: datetime, *, not_before: datetime, anchor: datetime | None = None
    ) -> datetime | None:
        base = _whole_second(as_utc(not_before if anchor is None else anchor))
        k = (as_utc(before) - base) // self.every
        found = base + k * self.every
        return found if k >= 1 and found >= not_before else None

    def _first_after(self, after: datetime, base: datetime) -> int:
        """The k of the first fire time strictly after ``after`` (both in UTC)."""
        return max(1, (after - base) // self.every + 1)


@dataclass(frozen=True)
class AtSchedule:
    """One-shot times, sorted and distinct, in UTC."""

    text: str
    instants: tuple[datetime, ...]
    fixed_time: bool = True
    is_reboot: bool = False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        index = bisect_right(self.instants, as_utc(after))
        return self.instants[index] if index < len(self.instants) else None

    def next_times(
        self, after: datetime, n: int, *, anchor: datetime | None = None
    ) -> list[datetime]:
        index = bisect_right(self.instants, as_utc(after))
        return list(self.instants[index : index + max(n, 0)])

    def fires_at(self, instant: datetime, *, anchor: datetime | None = None) -> bool:
        return self.next_after(instant - MICROSECOND) == instant

    def count_between(
        self, start: datetime, end: datetime, *, anchor: datetime | None = None, limit: int
    ) -> tuple[list[datetime], int]:
        low = bisect_right(self.instants, as_utc(start))
        high = bisect_right(self.instants, as_utc(end))
        return list(self.instants[low:high][:limit]), min(max(0, high - low), COUNT_CAP)

    def previous_fire(
        self, before: datetime, *, not_before: datetime, anchor: datetime | None = None
    ) -> datetime | None:
        index = bisect_right(self.instants, as_utc(before))
        if index and self.instants[index - 1] >= not_before:
            return self.instants[index - 1]
        return None


class _OffTheClock:
    """A schedule with no fire time of its own: the runner starts the job on another event."""

    fixed_time: bool = False
    is_reboot: bool = False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        return None

    def next_times(
        self, after: datetime, n: int, *, anchor: datetime | None = None
    ) -> list[datetime]:
        return []

    def fires_at(self, instant: datetime, *, anchor: datetime | None = None) -> bool:
        return False

    def count_between(
        self, start: datetime, end: datetime, *, anchor: datetime | None = None, limit: int
    ) -> tuple[list[datetime], int]:
        return [], 0

    def previous_fire(
        self, before: datetime, *, not_before: datetime, anchor: datetime | None = None
    ) -> datetime | None:
        return None


@dataclass(frozen=True)
class RebootSchedule(_OffTheClock):
    """``@reboot``: never fires on the clock; the runner starts it once per boot."""

    text: str = "@reboot"
    is_reboot: bool = True


@dataclass(frozen=True)
class AfterOnlySchedule(_OffTheClock):
    """A job with ``after`` and neither ``schedule`` nor ``at``: it runs only when its
    upstream jobs succeed."""

    upstream: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "after " + ", ".join(self.upstream)
