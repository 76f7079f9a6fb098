"""The view of ``cronpy history``: a strip of outcomes, oldest first, its legend, then the runs."""

from __future__ import annotations

from cronpy.cli.commands.history import HistoryResult
from cronpy.cli.render.base import Cell, Output, view
from cronpy.cli.render.fit import Column
from cronpy.cli.render.words import (
    STATUS_STYLE,
    STRIP_LETTER,
    duration,
    exit_text,
    outcome,
    when,
    zone_note,
)

# Left out first when the terminal is narrow (highest ``drop`` first); the id, the job and
# the status are always shown whole.
COLUMNS = (
    Column("ID", right=True),
    Column("JOB"),
    Column("SCHEDULED", drop=4),
    Column("STARTED", drop=1),
    Column("DURATION", right=True, drop=2),
    Column("STATUS"),
    Column("EXIT", right=True, drop=6),  # the status says the exit code of a failure already
    Column("TRIGGER", drop=5),
    Column("LATE", right=True, drop=3),
    # what each run cost: the first to go when the screen is narrow
    Column("CPU", right=True, drop=8),
    Column("MAXRSS", right=True, drop=7),
)


@view(HistoryResult)
def history(result: HistoryResult, out: Output) -> None:
    if not result.runs:
        about = f" for {result.job!r}" if result.job else ""
        filters = " matching these filters" if result.filtered else ""
        out.line(f"No runs recorded{about}{filters}.")
        return
    oldest_first = list(reversed(result.runs))
    strip = [
        Cell("■" if out.color else STRIP_LETTER[r.status], STATUS_STYLE[r.status])
        for r in oldest_first
    ]
    out.segments([Cell("oldest → newest  ", "dim"), *strip])
    # The legend: with colour, each status in its own colour; without, the letters.
    used = dict.fromkeys(r.status for r in oldest_first)
    if out.color:  # several statuses share a colour (red: failed, timed_out...): one entry each
        by_style: dict[str, list[str]] = {}
        for status in used:
            by_style.setdefault(STATUS_STYLE[status], []).append(status.value)
        legend: list[Cell] = []
        for style, names in by_style.items():
            legend += [Cell("■ ", style), Cell(f"{', '.join(names)}  ", "dim")]
        out.segments([Cell("  "), *legend])
    else:
        out.line("  " + ", ".join(f"{STRIP_LETTER[s]} {s.value}" for s in used))
    out.line()
    zone = result.zone
    rows = [
        [
            Cell(str(r.id)),
            Cell(r.job, "bold"),
            Cell(when(r.scheduled_at, zone, short=True)),
            Cell(when(r.started_at, zone, short=True)),
            Cell(duration(r.duration)),
            Cell(outcome(r), STATUS_STYLE[r.status]),
            Cell(exit_text(r)),
            Cell(r.trigger.value),
            Cell(duration(r.lateness)),
            Cell(cpu_text(r.cpu_seconds)),
            Cell(rss_text(r.max_rss_kib)),
        ]
        for r in result.runs
    ]
    out.table(COLUMNS, rows)
    out.line(zone_note(zone), "dim")


def cpu_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def rss_text(kib: int | None) -> str:
    if kib is None:
        return "-"
    return f"{kib / 1024:.1f}MiB" if kib < 1024 * 1024 else f"{kib / 1024 / 1024:.2f}GiB"
