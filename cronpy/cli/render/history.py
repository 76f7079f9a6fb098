"""The view of ``cronpy history``: a strip of outcomes, oldest first, then the runs."""

from __future__ import annotations

import shutil

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
    right = {0, 4, 6, 8}
    # what each run cost, when the screen has room for two more columns (not a terminal: yes)
    if shutil.get_terminal_size((200, 24)).columns >= COST_COLUMNS_FROM:
        for row, r in zip(rows, result.runs, strict=True):
            row += [Cell(cpu_text(r.cpu_seconds)), Cell(rss_text(r.max_rss_kib))]
        headers += ["CPU", "MAXRSS"]
        right |= {9, 10}
    out.table(headers, rows, right=frozenset(right))


COST_COLUMNS_FROM = 120


def cpu_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def rss_text(kib: int | None) -> str:
    if kib is None:
        return "-"
    return f"{kib / 1024:.1f}MiB" if kib < 1024 * 1024 else f"{kib / 1024 / 1024:.2f}GiB"
