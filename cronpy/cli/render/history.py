"""The view of ``cronpy history``: a strip of outcomes, oldest first, then the runs."""

from __future__ import annotations

from cronpy.cli.commands.history import HistoryResult
from cronpy.cli.render.base import Cell, Output, view
from cronpy.cli.render.words import STATUS_STYLE, STRIP_LETTER, duration, exit_text, outcome, when


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
