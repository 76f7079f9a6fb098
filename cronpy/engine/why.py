"""Why a job did or did not run at an instant, and when and why it will run next.

A pure function over a job, what the store remembers of it, its records and ``now``: it
reads no clock and no store, so ``cronpy why`` and the tests hand it exactly what it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from cronpy.model import Job, JobState, Run, SkipReason, Status
from cronpy.model.durations import format_duration
from cronpy.model.run import iso

LOOK_BACK = timedelta(days=366)
"""How far back to look for a previous fire time: a schedule rarer than yearly is an ``at``."""

_TINY = timedelta(microseconds=1)
_WINDOW_SEARCH = 10_000  # fire times examined for the next one inside the job's window


@dataclass(frozen=True)
class WhyAnswer:
    job: str
    asked: datetime | None  # the instant asked about (UTC); None: "the last due time"
    occurrence: datetime | None  # the fire time explained (asked, or the last due time)
    fire_time: bool  # whether ``asked`` is a fire time (True when nothing was asked)
    records: tuple[Run, ...]  # the records of ``occurrence``, oldest first
    covered_by: Run | None  # a ``missed`` record standing for it among other occurrences
    nearest_before: datetime | None  # when ``asked`` is not a fire time: the fire times around it
    nearest_after: datetime | None
    next_run_at: datetime | None  # when it will run next; None: it will not (see ``explanation``)
    explanation: tuple[str, ...]  # sentences for a person

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "asked": iso(self.asked),
            "occurrence": iso(self.occurrence),
            "fire_time": self.fire_time,
            "records": [r.to_json() for r in self.records],
            "covered_by": None if self.covered_by is None else self.covered_by.to_json(),
            "nearest_before": iso(self.nearest_before),
            "nearest_after": iso(self.nearest_after),
            "next_run_at": iso(self.next_run_at),
            "explanation": list(self.explanation),
        }


def lookup_from(job: Job, state: JobState | None, at: datetime | None, now: datetime) -> datetime:
    """The earliest creation time of the records ``why`` needs: pass the job's records created
    since then (records are created at or after the occurrence they are for)."""
    anchor = state.first_seen if state is not None else None
    if at is None:
        at = now
    elif job.schedule.fires_at(at, anchor=anchor):
        return at - timedelta(seconds=1)
    before = job.schedule.previous_fire(at, not_before=at - LOOK_BACK, anchor=anchor)
    return (before or at) - timedelta(seconds=1)


def why(
    job: Job,
    state: JobState | None,
    runs: Sequence[Run],
    at: datetime | None,
    now: datetime,
    shown_in: tzinfo | None = None,
) -> WhyAnswer:
    """Explain ``job`` at ``at`` (default: its last due time), then its next run.

    ``runs``: the job's records created since ``lookup_from(...)``, in any order.
    ``shown_in``: the zone the sentences give times in (default: the job's), with the offset.
    """
    zone = shown_in or job.timezone
    schedule = job.schedule
    anchor = state.first_seen if state is not None else None
    ours = sorted((r for r in runs if r.job == job.name), key=lambda r: r.id)
    lines: list[str] = []
    occurrence: datetime | None
    before = after = None
    fire_time = True
    if at is None:
        not_before = anchor if anchor is not None else now - LOOK_BACK
        occurrence = schedule.previous_fire(now, not_before=not_before, anchor=anchor)
        if occurrence is None:
            since = f" since it first appeared ({_at(zone, anchor)})" if anchor else ""
            lines.append(f"{job.name} has not been due yet{since}.")
    elif schedule.fires_at(at, anchor=anchor):
        occurrence = at
    else:
        fire_time = False
        occurrence = None
        before = schedule.previous_fire(at, not_before=at - LOOK_BACK, anchor=anchor)
        after = schedule.next_after(at, anchor=anchor)
        lines.append(
            f"{_at(zone, at)} is not a fire time of {schedule.text!r} ({job.timezone.key})."
            + _nearest(zone, before, after)
        )
        for near in (before, after):
            if near is not None and near <= now:
                lines.append(
                    f"At {_at(zone, near)}: " + _occurrence(job, state, ours, near, now, zone)[2]
                )
    records: tuple[Run, ...] = ()
    covered_by = None
    if occurrence is not None:
        records, covered_by, sentence = _occurrence(job, state, ours, occurrence, now, zone)
        lines.append(f"{job.name} was due at {_at(zone, occurrence)}: {sentence}")
    next_run_at, next_lines = _next(job, state, now, zone)
    lines.extend(next_lines)
    return WhyAnswer(
        job=job.name,
        asked=None if at is None else at.astimezone(UTC),
        occurrence=occurrence,
        fire_time=fire_time,
        records=records,
        covered_by=covered_by,
        nearest_before=before,
        nearest_after=after,
        next_run_at=next_run_at,
        explanation=tuple(lines),
    )


def _nearest(zone: tzinfo, before: datetime | None, after: datetime | None) -> str:
    parts = []
    if before is not None:
        parts.append(f"the one before is {_at(zone, before)}")
    if after is not None:
        parts.append(f"the next is {_at(zone, after)}")
    if not parts:
        return " It has no fire time near it."
    sentence = "; ".join(parts)
    return " " + sentence[0].upper() + sentence[1:] + "."


def _occurrence(
    job: Job,
    state: JobState | None,
    runs: list[Run],
    occurrence: datetime,
    now: datetime,
    zone: tzinfo,
) -> tuple[tuple[Run, ...], Run | None, str]:
    """The records of one occurrence, the missed record covering it, and a sentence."""
    records = tuple(r for r in runs if r.scheduled_at == occurrence)
    if records:
        return records, None, " ".join(_record(r) for r in records)
    covering = _covering(job, state, runs, occurrence)
    if covering is not None:
        others = (covering.missed_count or 1) - 1
        among = f" along with {others} other occurrence{'s' * (others != 1)}" if others else ""
        reason = f" ({covering.reason})" if covering.reason else ""
        return (), covering, f"it was missed{among}{reason}; record {covering.id}."
    if occurrence > now:
        return (), None, "that is in the future."
    if state is None:
        return (), None, "no runner has loaded this job into the state, so nothing ran it."
    if occurrence < state.first_seen:
        return (
            (),
            None,
            (
                f"that is before the job first appeared ({_at(zone, state.first_seen)}), "
                "so nothing was due."
            ),
        )
    if state.cursor is None or occurrence > state.cursor:
        return (
            (),
            None,
            (
                "no runner has handled it yet: none was running then, or it has not caught up; "
                "the next runner to start applies the job's missed policy "
                f"({job.missed.value})."
            ),
        )
    return (
        (),
        None,
        (
            "no record of it is left: history retention (keep) has removed it, "
            "or it fell outside the records searched."
        ),
    )


def _covering(
    job: Job, state: JobState | None, runs: list[Run], occurrence: datetime
) -> Run | None:
    """A ``missed`` record that stands for ``occurrence`` among others. Such a record names one
    occurrence (the latest of those skipped, or the first of those a catch-up replaced) and
    how many it stands for: ``occurrence`` is one of them if no more than that many fire
    times lie between the two. Later records are tried first: skipping is the common case."""
    anchor = state.first_seen if state is not None else None
    candidates = [
        r
        for r in runs
        if r.status is Status.MISSED and r.scheduled_at is not None and r.missed_count
    ]
    candidates.sort(key=lambda r: r.scheduled_at is not None and r.scheduled_at < occurrence)
    for run in candidates:
        assert run.scheduled_at is not None and run.missed_count is not None
        low, high = sorted((run.scheduled_at, occurrence))
        _, between = job.schedule.count_between(low - _TINY, high, anchor=anchor, limit=0)
        if between <= run.missed_count:
            return run
    return None


def _record(run: Run) -> str:
    how = _ENDED.get(run.status, "ended {status}").format(
        status=run.status.value,
        code=run.exit_code,
        signal=run.signal,
        reason=_reason(run.reason),
        took="" if run.duration is None else f" after {format_duration(run.duration)}",
    )
    late = ""
    if run.lateness is not None and run.lateness >= 1:
        late = f", started {format_duration(run.lateness)} late"
    attempt = f" (attempt {run.attempt})" if run.attempt > 1 else ""
    if run.status in (Status.SKIPPED, Status.MISSED):
        return f"it {how} (record {run.id})."
    return f"run {run.id}{attempt} {how}{late}."


_ENDED = {
    Status.RUNNING: "is still running",
    Status.SUCCEEDED: "succeeded{took}",
    Status.FAILED: "failed with exit code {code}{took}",
    Status.TIMED_OUT: "timed out{took}",
    Status.KILLED: "was killed by signal {signal}{took}",
    Status.SPAWN_ERROR: "could not start{reason}",
    Status.SKIPPED: "was skipped{reason}",
    Status.MISSED: "was missed{reason}",
    Status.CANCELLED: "was cancelled{took}",
    Status.LOST: "was lost{reason}",
}

_SKIP_WORDS = {
    SkipReason.OVERLAP.value: "the previous run was still running (overlap)",
    SkipReason.PAUSED.value: "the job was paused",
    SkipReason.WINDOW.value: "it was outside the job's window",
}


def _reason(reason: str | None) -> str:
    if not reason:
        return ""
    return ": " + _SKIP_WORDS.get(reason, reason)


def _next(
    job: Job, state: JobState | None, now: datetime, zone: tzinfo
) -> tuple[datetime | None, list[str]]:
    """When the job runs next and why then (or why never)."""
    if state is not None and not state.present:
        return None, ["It is no longer in the runner's job file, so it will not run."]
    if not job.enabled:
        return None, [
            "It is disabled (enabled = false): it does not run on schedule, after other jobs,"
            " to catch up or to retry; only `cronpy trigger` starts it."
        ]
    if job.max_runs is not None and state is not None and state.run_count >= job.max_runs:
        return None, [
            f"It has run {state.run_count} times, its max_runs, so it will not run again."
        ]
    if job.schedule.is_reboot:
        return None, ["It runs once per boot of the machine (@reboot), not on the clock."]
    if job.after and job.schedule.next_after(now) is None:
        upstream = " and ".join(repr(name) for name in job.after)
        return None, [f"It has no schedule of its own: it runs once {upstream} succeeded."]
    lines: list[str] = []
    if state is not None and state.late is not None:
        lines.append(f"It is {state.late}; this clears when it next succeeds.")
    anchor = state.first_seen if state is not None else None
    start = now
    if state is not None and state.is_paused(now):
        if state.paused_until is None:
            return None, [
                "It is paused until resumed (`cronpy resume "
                f"{job.name}`); until then its occurrences are recorded skipped (paused)."
            ]
        lines.append(f"It is paused until {_at(zone, state.paused_until)}.")
        start = state.paused_until
    nxt = job.schedule.next_after(start, anchor=anchor)
    if nxt is not None and job.window is not None and not _in_window(job, nxt):
        first_out = nxt
        nxt = _next_in_window(job, nxt, anchor)
        lines.append(
            f"Its next fire time, {_at(zone, first_out)}, is outside its window, "
            "where it is recorded skipped (window)."
        )
    retries = state.retries if state is not None else ()
    retry = min((r.due_at for r in retries), default=None)
    for pending in retries:
        lines.append(
            f"A retry (attempt {pending.attempt}) of the run due"
            f" {_at(zone, pending.scheduled_at)} is due at {_at(zone, pending.due_at)}."
        )
    if nxt is None:
        lines.append("Its schedule has no fire time left, so it will not run on schedule again.")
        return retry, lines
    lines.append(
        f"It runs next at {_at(zone, nxt)} (in {format_duration((nxt - now).total_seconds())})."
    )
    if state is not None and state.next_run_at is not None and state.next_run_at != nxt:
        lines.append(f"The runner last planned it for {_at(zone, state.next_run_at)}.")
    return (nxt if retry is None else min(nxt, retry)), lines


def _in_window(job: Job, instant: datetime) -> bool:
    return job.window is None or job.window.allows(instant.astimezone(job.timezone))


def _next_in_window(job: Job, after: datetime, anchor: datetime | None) -> datetime | None:
    current = after
    for _ in range(_WINDOW_SEARCH):
        found = job.schedule.next_after(current, anchor=anchor)
        if found is None or _in_window(job, found):
            return found
        current = found
    return None


def _at(zone: tzinfo, when: datetime | None) -> str:
    """An instant as a wall time in ``zone``, with the UTC offset."""
    if when is None:
        return "never"
    return when.astimezone(zone).isoformat(timespec="seconds")
