"""The view of ``cronpy status``: the runner, then one row per job."""

from __future__ import annotations

from datetime import datetime, tzinfo

from cronpy.cli.commands.status import LIST_ALL_UP_TO, JobStatus, StatusResult
from cronpy.cli.render.base import Cell, Output, view
from cronpy.cli.render.fit import Column
from cronpy.cli.render.words import STATUS_STYLE, outcome, relative, when, zone_note

# Left out first when the terminal is narrow (highest ``drop`` first); job, result and state
# are always shown whole.
COLUMNS = (
    Column("JOB"),
    Column("SCHEDULE", drop=5),
    Column("TIMEZONE", drop=6),
    Column("NEXT RUN", drop=1),
    Column("IN", drop=4),  # how long until the next run: the first to go after the zone
    Column("LAST RUN", drop=3),
    Column("RESULT"),
    Column("NOW"),
)


@view(StatusResult)
def status(result: StatusResult, out: Output) -> None:
    zone = result.zone
    if result.runners:
        for r in result.runners:
            since = "" if r.started_at is None else f", since {when(r.started_at, zone)}"
            if r.heartbeat_at is not None:  # one of the runners of a shared store
                age = (result.now - r.heartbeat_at).total_seconds()
                beat = f"; heartbeat {age:.0f}s ago, {r.runs} run(s) held"
                state = "silent (dead or cut off)" if r.silent else "alive"
                style = "red" if r.silent else "green"
                text = f"#{r.id} pid {r.pid} on {r.host}{since}{beat}: {state}"
                out.segments([Cell("Runner: ", "bold"), Cell(text, style)])
                if r.file_differs:
                    note = f"  runs another job file ({r.file_hash}) than most runners"
                    out.segments([Cell(note, "yellow")])
                continue
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
            [
                Cell("Runner: ", "bold"),
                Cell(f"none is running on {result.state_dir}", "yellow"),
                Cell("; no job runs until `cronpy run FILE` starts", "dim"),
            ]
        )
    if not result.jobs:
        out.line("No jobs: no runner has loaded a job file into this state yet.")
        return
    out.line()
    rows = [_status_row(job, result.now, zone) for job in result.jobs]
    out.table(COLUMNS, rows)
    out.line(zone_note(zone), "dim")
    if result.more:
        out.line(
            f"More than {LIST_ALL_UP_TO:,} jobs: only the first {len(result.jobs):,} by name are"
            " shown. `cronpy status --all` lists every one, `cronpy status JOB` shows one.",
            "yellow",
        )


def _next_cells(job: JobStatus, now: datetime, zone: tzinfo | None) -> list[Cell]:
    """NEXT RUN and IN: when, and how long until then."""
    if not job.enabled:
        return [Cell("-"), Cell("-")]
    if job.would_run_at is not None:  # no runner: when it would run, were one up
        moment = job.would_run_at
        return [
            Cell(when(moment, zone, short=True), "dim"),
            Cell(f"{relative(moment, now)} (no runner)", "yellow"),
        ]
    if job.next_run_at is None or not job.present:
        return [Cell("-"), Cell("-")]
    style = "dim" if job.paused else None
    return [
        Cell(when(job.next_run_at, zone, short=True), style),
        Cell(relative(job.next_run_at, now), style),
    ]


def _status_row(job: JobStatus, now: datetime, zone: tzinfo | None) -> list[Cell]:
    last = job.last_run
    last_when = (
        "-"
        if last is None
        else when(last.started_at or last.ended_at or last.scheduled_at, zone, short=True)
    )
    result = Cell("-") if last is None else Cell(outcome(last), STATUS_STYLE[last.status])
    return [
        Cell(job.name, "bold"),
        Cell(job.schedule),
        Cell(job.timezone),
        *_next_cells(job, now, zone),
        Cell(last_when),
        result,
        _now_cell(job, zone),
    ]


def _now_cell(job: JobStatus, zone: tzinfo | None) -> Cell:
    parts: list[str] = []
    style = None
    if job.running:
        ids = ", ".join(str(r.id) for r in job.running)
        parts.append(f"running (run {ids})")
        style = "cyan"
    if not job.enabled:
        parts.append("disabled")
        style = style or "dim"
    if job.paused:
        until = (
            "" if job.paused_until is None else f" until {when(job.paused_until, zone, short=True)}"
        )
        parts.append("paused" + until)
        style = style or "yellow"
    if job.late:
        parts.append("late")  # the reason is in --json and `cronpy why`
        style = style or "red"
    if not job.present:
        parts.append("removed from the job file")
        style = style or "dim"
    return Cell("; ".join(parts) or "-", style)
