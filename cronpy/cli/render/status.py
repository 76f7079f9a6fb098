"""The view of ``cronpy status``: the runner, then one row per job."""

from __future__ import annotations

from datetime import datetime

from cronpy.cli.commands.status import JobStatus, StatusResult
from cronpy.cli.render.base import Cell, Output, view
from cronpy.cli.render.words import STATUS_STYLE, outcome, relative, when


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
            if r.reload_refused:  # it still runs the file as it was when loaded_at
                still = f"still runs the job file loaded at {r.loaded_at}; reload refused "
                out.segments([Cell("  ", "bold"), Cell(still + r.reload_refused, "yellow")])
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
