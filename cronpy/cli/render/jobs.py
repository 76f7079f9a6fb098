"""Views of the state: ``cronpy status`` (jobs and the runner) and ``cronpy history`` (runs)."""

from __future__ import annotations

from datetime import datetime

from cronpy.cli.commands.history import HistoryResult
from cronpy.cli.commands.status import JobStatus, StatusResult
from cronpy.cli.render.base import Cell, Output, view
from cronpy.cli.render.words import (
    STATUS_STYLE,
    STRIP_LETTER,
    duration,
    exit_text,
    outcome,
    relative,
    when,
)


@view(StatusResult)
def status(result: StatusResult, out: Output) -> None:
    if result.runners:
        for r in result.runners:
            since = "" if r.started_at is None else f", since {when(r.started_at)}"
            out.segments(
                [Cell("Runner: ", "bold"), Cell(f"pid {r.pid} on {r.host}{since}", "green")]
            )
            if r.degraded:
                out.segments([Cell("  degraded: ", "bold"), Cell(r.degraded, "red")])
    else:
        out.segments(
            [Cell("Runner: ", "bold"), Cell(f"none is running on {result.state_dir}", "yellow")]
        )
    if not result.jobs:
        out.line("No jobs: no runner has loaded a job file into this state yet.")
        return
    out.line()
    rows = [_status_row(job, result.now) for job in result.jobs]
    out.table(["JOB", "SCHEDULE", "TIMEZONE", "NEXT RUN", "LAST RUN", "RESULT", "NOW"], rows)


def _status_row(job: JobStatus, now: datetime) -> list[Cell]:
    nxt = "-"
    if job.next_run_at is not None:
        nxt = f"{when(job.next_run_at, short=True)} ({relative(job.next_run_at, now)})"
    last = job.last_run
    last_when = (
        "-"
        if last is None
        else when(last.started_at or last.ended_at or last.scheduled_at, short=True)
    )
    result = Cell("-") if last is None else Cell(outcome(last), STATUS_STYLE[last.status])
    return [
        Cell(job.name, "bold"),
        Cell(job.schedule),
        Cell(job.timezone),
        Cell(nxt, "dim" if job.paused else None),
        Cell(last_when),
        result,
        _now_cell(job),
    ]


def _now_cell(job: JobStatus) -> Cell:
    parts: list[str] = []
    style = None
    if job.running:
        ids = ", ".join(str(r.id) for r in job.running)
        parts.append(f"running (run {ids})")
        style = "cyan"
    if job.paused:
        parts.append(
            "paused" + ("" if job.paused_until is None else f" until {when(job.paused_until)}")
        )
        style = style or "yellow"
    if not job.present:
        parts.append("removed from the job file")
        style = style or "dim"
    return Cell("; ".join(parts) or "-", style)


@view(HistoryResult)
def history(result: HistoryResult, out: Output) -> None:
    if not result.runs:
        about = f" for {result.job!r}" if result.job else ""
        out.line(f"No runs recorded{about} (with these filters).")
        return
    oldest_first = list(reversed(result.runs))
    strip = [
        Cell("■" if out.color else STRIP_LETTER[r.status], STATUS_STYLE[r.status])
        for r in oldest_first
    ]
    out.segments([Cell("oldest → newest  ", "dim"), *strip])
    if not out.color:
        used = dict.fromkeys(r.status for r in oldest_first)
        out.line("  " + ", ".join(f"{STRIP_LETTER[s]} {s.value}" for s in used))
    out.line()
    rows = [
        [
            Cell(str(r.id)),
            Cell(r.job, "bold"),
            Cell(when(r.scheduled_at, short=True)),
            Cell(when(r.started_at, short=True)),
            Cell(duration(r.duration)),
            Cell(outcome(r), STATUS_STYLE[r.status]),
            Cell(exit_text(r)),
            Cell(r.trigger.value),
            Cell(duration(r.lateness)),
        ]
        for r in result.runs
    ]
    headers = ["ID", "JOB", "SCHEDULED", "STARTED", "DURATION", "STATUS", "EXIT", "TRIGGER", "LATE"]
    out.table(headers, rows, right=frozenset({0, 4, 6, 8}))
