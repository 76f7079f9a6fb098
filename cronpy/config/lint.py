"""Warnings about a valid job file: things cronpy will do that its author may not expect.

- a fixed-time job whose wall time falls in a daylight-saving gap or repeat in the next year
  (what cronpy does instead, on which date);
- a step that does not divide its range (``*/7`` minutes runs at :56 and then at :00);
- a day of month that some of the job's months lack (``31``, ``29 2``);
- a job that can fire again before its ``timeout`` ends while ``overlap = "forbid"`` skips
  the occurrences that find it still running;
- ``after`` naming a job that is disabled.

Pure: ``now`` is a parameter, and the clock is never read. Each warning names the file, the
line (from ``cronpy.config.locate``), the job and the key.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from cronpy.config.locate import Locator
from cronpy.model import Job, JobFile, Overlap
from cronpy.model.durations import format_duration
from cronpy.schedule import CronSchedule
from cronpy.schedule.parse import month_kind
from cronpy.schedule.zones import transitions

HORIZON = timedelta(days=366)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_STEP_FIELDS = {"second": 60, "minute": 60, "hour": 24, "month": 12}


@dataclass(frozen=True)
class LintWarning:
    path: str
    message: str
    job: str
    key: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: warning: job {self.job!r}, key {self.key!r}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.path,
            "line": self.line,
            "job": self.job,
            "key": self.key,
            "message": self.message,
        }


def lint(job_file: JobFile, source: str, *, now: datetime) -> list[LintWarning]:
    """Every warning about ``job_file`` (whose TOML text is ``source``), in file order."""
    found: list[tuple[str, str, str]] = []  # (job, key, message)
    for job in job_file.jobs.values():
        schedule = job.schedule
        if isinstance(schedule, CronSchedule):
            found += [(job.name, "schedule", m) for m in _cron_warnings(schedule, now)]
        found += _overlap_warning(job, now)
        for upstream in job.after:
            other = job_file.jobs.get(upstream)
            if other is not None and not other.enabled and job.enabled:
                found.append(
                    (
                        job.name,
                        "after",
                        f"it runs after {upstream!r}, which is disabled "
                        "(enabled = false), so that never starts it",
                    )
                )
    if not found:
        return []
    locator = Locator(source, [("jobs", j, k) for j, k, _ in found])
    path = str(job_file.path)
    warnings = [
        LintWarning(path, message, job, key, locator.find(("jobs", job, key))[0])
        for job, key, message in found
    ]
    warnings.sort(key=lambda w: w.line or 0)
    return warnings


def _cron_warnings(schedule: CronSchedule, now: datetime) -> list[str]:
    out: list[str] = []
    words = schedule.text.split()
    if len(words) in (5, 6):
        names = ["minute", "hour", "day-of-month", "month", "day-of-week"]
        if len(words) == 6:
            names.insert(0, "second")
        out += _step_warnings(dict(zip(names, words, strict=True)))
        if not words[-3].startswith(("*", "?")) and not schedule.days.either:
            out += _missing_days(schedule)
    if schedule.fixed_time and isinstance(schedule.tz, ZoneInfo):
        out += _dst_warnings(schedule, now)
    return out


def _step_warnings(fields: dict[str, str]) -> list[str]:
    out: list[str] = []
    for name, text in fields.items():
        for item in text.split(","):
            base, slash, step_text = item.partition("/")
            if not slash or base != "*" or not step_text.isdigit():
                continue
            step = int(step_text)
            if name == "day-of-month" and step > 1:
                out.append(
                    f'"{item}" in {name} starts again on the 1st each month: after the 29th, '
                    "30th or 31st the next run can come sooner than the step"
                )
            size = _STEP_FIELDS.get(name)
            if size is None or size % step == 0:
                continue
            low = 1 if name == "month" else 0
            last = low + (size - 1) // step * step
            unit = {"second": ":{:02d}s", "minute": ":{:02d}", "hour": "{:02d}:00"}
            show = unit.get(name, "{}").format
            out.append(
                f'"{item}" in {name} does not divide {size}: it runs at {show(last)} and then '
                f"at {show(low)}, {size - last + low} apart instead of {step}"
            )
    return out


def _missing_days(schedule: CronSchedule) -> list[str]:
    out: list[str] = []
    for day in sorted(d for d in schedule.days.dom if d >= 29):
        lacking = [m for m in schedule.months if day > monthrange(2024, m)[1]]  # 2024: a leap year
        if day == 29 and 2 in schedule.months:
            out.append("day 29 of February exists only in leap years: no run in other Februaries")
        if lacking:
            listed = ", ".join(_MONTHS[m - 1] for m in lacking)
            out.append(f"day {day} does not exist in {listed}: no run on it in those months")
    return out


def _dst_warnings(schedule: CronSchedule, now: datetime) -> list[str]:
    tz = schedule.tz
    start = int(now.timestamp())
    out: list[str] = []
    for instant, before, after in transitions(tz, start, start + int(HORIZON.total_seconds())):
        wall = datetime.fromtimestamp(instant, UTC).replace(tzinfo=None)
        low, high = (
            wall + timedelta(seconds=min(before, after)),
            wall + timedelta(seconds=max(before, after)),
        )
        for hour in schedule.hours:
            for minute in schedule.minutes:
                for second in schedule.seconds:
                    local = datetime.combine(low.date(), datetime.min.time()).replace(
                        hour=hour, minute=minute, second=second
                    )
                    if not low <= local < high or not _date_matches(schedule, local):
                        continue
                    when = f"{local:%H:%M}" + (f":{second:02d}" if second else "")
                    if after > before:
                        jump = f"{high:%H:%M}"
                        out.append(
                            f"runs at {jump} on {local:%Y-%m-%d} ({when} does not exist: "
                            f"the clocks jump from {low:%H:%M} to {jump})"
                        )
                    else:
                        out.append(
                            f"{when} happens twice on {local:%Y-%m-%d} (the clocks go back "
                            f"from {high:%H:%M} to {low:%H:%M}); it runs once, at the first"
                        )
    return out


def _date_matches(schedule: CronSchedule, local: datetime) -> bool:
    if local.month not in schedule.months:
        return False
    first_weekday, length = monthrange(local.year, local.month)
    table = schedule.days.by_month_kind()
    return local.day in table[month_kind(length, (first_weekday + 1) % 7)]


def _overlap_warning(job: Job, now: datetime) -> list[tuple[str, str, str]]:
    if job.timeout is None or job.overlap is not Overlap.FORBID:
        return []
    fires = job.schedule.next_times(now, 500, anchor=now)
    gaps = [(b - a).total_seconds() for a, b in pairwise(fires)]
    if not gaps or min(gaps) >= job.timeout:
        return []
    return [
        (
            job.name,
            "timeout",
            f"it can fire again {format_duration(min(gaps))} after a run starts, but its "
            f'timeout is {format_duration(job.timeout)}: with overlap = "forbid" a run that '
            "takes that long makes the occurrences during it skipped",
        )
    ]


__all__ = ["HORIZON", "LintWarning", "lint"]
