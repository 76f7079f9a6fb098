"""The one place that prints command results: human tables and lines, or one JSON document.

Colour only when stdout is a terminal and NO_COLOR is unset (https://no-color.org); then
rich draws the tables. Otherwise the output is plain aligned text with no escape codes at
all, and rich is never imported: that keeps ``cronpy status | grep`` and scripts fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from cronpy.model import Run, Status
from cronpy.model.durations import format_duration

if TYPE_CHECKING:
    # Only for annotations: a command imports its own result module, and rendering it must
    # not drag in the others (``why`` needs the schedule module, ``status`` does not).
    from cronpy.cli.commands.control import Requested
    from cronpy.cli.commands.history import HistoryResult
    from cronpy.cli.commands.pause import PauseResult
    from cronpy.cli.commands.preview import NextResult
    from cronpy.cli.commands.status import JobStatus, StatusResult
    from cronpy.cli.commands.systemd import UnitResult
    from cronpy.cli.commands.validate import ValidateResult
    from cronpy.engine.why import WhyAnswer


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def color_wanted(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def render(
    result: Any, *, as_json: bool = False, stream: TextIO | None = None, color: bool | None = None
) -> None:
    out_stream = sys.stdout if stream is None else stream
    if as_json:
        # indented for a person at a terminal; compact for machines, where json's C encoder
        # is several times faster (indent forces the pure-Python one)
        indent = 2 if _isatty(out_stream) else None
        json.dump(result.to_json(), out_stream, indent=indent, ensure_ascii=False)
        out_stream.write("\n")
        return
    out = Output(out_stream, color_wanted(out_stream) if color is None else color)
    _human(result, out)


# -- the output surface ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    style: str | None = None  # a rich style name; ignored without colour


class Output:
    """Lines and tables, coloured through rich or plain."""

    def __init__(self, stream: TextIO, color: bool) -> None:
        self.stream = stream
        self.color = color
        self._console: Any = None

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.color and style:
            self.console.print(text, style=style, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")

    def segments(self, parts: Sequence[Cell]) -> None:
        """One line made of differently styled pieces."""
        if not self.color:
            self.stream.write("".join(p.text for p in parts) + "\n")
            return
        from rich.text import Text

        text = Text()
        for part in parts:
            text.append(part.text, style=part.style or "")
        self.console.print(text, highlight=False)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[Cell]],
        right: frozenset[int] = frozenset(),
    ) -> None:
        if self.color:
            self._rich_table(headers, rows, right)
        else:
            self._plain_table(headers, rows, right)

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, force_terminal=True)
        return self._console

    def _rich_table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: frozenset[int]
    ) -> None:
        from rich import box
        from rich.table import Table

        table = Table(
            box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, collapse_padding=True
        )
        for i, header in enumerate(headers):
            # In a narrow terminal cells wrap ("fold"): no header, name or time is ever cut
            # short with "…", and no column is pushed off the screen.
            table.add_column(
                header,
                justify="right" if i in right else "left",
                min_width=len(header),
                overflow="fold",
            )
        for row in rows:
            table.add_row(*(_rich_cell(c) for c in row))
        self.console.print(table)

    def _plain_table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: frozenset[int]
    ) -> None:
        widths = [len(h) for h in headers]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell.text))

        def fmt(texts: Sequence[str]) -> str:
            parts = [
                t.rjust(widths[i]) if i in right else t.ljust(widths[i])
                for i, t in enumerate(texts)
            ]
            return "  ".join(parts).rstrip()

        lines = [fmt(headers)] + [fmt([c.text for c in row]) for row in rows]
        self.stream.write("\n".join(lines) + "\n")


def _rich_cell(cell: Cell) -> Any:
    from rich.text import Text

    return Text(cell.text, style=cell.style or "")


# -- formatting pieces ------------------------------------------------------------------------


def when(moment: datetime | None, *, short: bool = False) -> str:
    """An instant in the local zone of whoever reads the table (JSON carries exact offsets).

    ``short`` is for table cells, so a table fits an 80-column terminal: the time alone for
    today, month and day for this year, the full date otherwise."""
    if moment is None:
        return "-"
    local = moment.astimezone()
    if not short:
        return local.strftime("%Y-%m-%d %H:%M:%S")
    today = datetime.now(local.tzinfo).date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    if local.year == today.year:
        return local.strftime("%b %d %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def relative(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    if seconds >= 0:
        return f"in {format_duration(seconds)}"
    return f"{format_duration(-seconds)} ago"


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


STATUS_STYLE = {
    Status.RUNNING: "cyan",
    Status.SUCCEEDED: "green",
    Status.FAILED: "red",
    Status.TIMED_OUT: "red",
    Status.KILLED: "red",
    Status.SPAWN_ERROR: "red",
    Status.LOST: "red",
    Status.SKIPPED: "yellow",
    Status.MISSED: "yellow",
    Status.CANCELLED: "magenta",
}

STRIP_LETTER = {
    Status.SUCCEEDED: "S",
    Status.FAILED: "F",
    Status.TIMED_OUT: "T",
    Status.KILLED: "K",
    Status.SPAWN_ERROR: "E",
    Status.LOST: "L",
    Status.SKIPPED: "-",
    Status.MISSED: "M",
    Status.CANCELLED: "C",
    Status.RUNNING: "R",
}


def status_cell(run: Run) -> Cell:
    return Cell(run.status.value, STATUS_STYLE[run.status])


def exit_text(run: Run) -> str:
    if run.signal is not None:
        return _signal_name(run.signal)
    return "-" if run.exit_code is None else str(run.exit_code)


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def outcome(run: Run) -> str:
    """``failed (exit 3)``, ``killed (SIGKILL)``, ``skipped (paused)``..."""
    detail = None
    if run.status in (Status.FAILED, Status.SUCCEEDED) and run.exit_code is not None:
        detail = f"exit {run.exit_code}" if run.status is Status.FAILED else None
    elif run.signal is not None:
        detail = _signal_name(run.signal)
    elif run.status is Status.MISSED and run.missed_count:
        detail = f"{run.missed_count}x"
    elif run.reason and run.status is Status.SKIPPED:
        detail = run.reason
    return run.status.value + (f" ({detail})" if detail else "")


# -- one human renderer per result type -----------------------------------------------------


_HUMAN: dict[str, Callable[[Any, Output], None]] = {}
_R = TypeVar("_R")


def _renders(
    class_name: str,
) -> Callable[[Callable[[_R, Output], None]], Callable[[_R, Output], None]]:
    """Register the human renderer of the result class named ``class_name``."""

    def register(fn: Callable[[_R, Output], None]) -> Callable[[_R, Output], None]:
        _HUMAN[class_name] = fn
        return fn

    return register


def _human(result: Any, out: Output) -> None:
    try:
        renderer = _HUMAN[type(result).__name__]
    except KeyError:
        raise TypeError(f"no human renderer for {type(result).__name__}") from None
    renderer(result, out)


@_renders("StatusResult")
def _status(result: StatusResult, out: Output) -> None:
    if result.runners:
        for r in result.runners:
            since = (
                ""
                if r.started_at is None
                else f", since {when(datetime.fromisoformat(r.started_at))}"
            )
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


@_renders("HistoryResult")
def _history(result: HistoryResult, out: Output) -> None:
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


@_renders("PauseResult")
def _pause(result: PauseResult, out: Output) -> None:
    for change in result.changes:
        until = "" if change.until is None else f" until {when(change.until)}"
        if change.paused and not change.was_paused:
            out.line(f"paused {change.name}{until}", "yellow")
        elif change.paused and change.changed:
            out.line(
                f"{change.name} was already paused; now paused{until or ' until resumed'}", "yellow"
            )
        elif change.paused:
            out.line(f"{change.name} was already paused{until}")
        elif change.was_paused:
            out.line(f"resumed {change.name}", "green")
        else:
            out.line(f"{change.name} was not paused")
    if not result.changes:
        out.line("no jobs to change")
    elif any(c.changed for c in result.changes) and not result.runner_woken:
        out.line("(no runner is running; it applies this when it starts)", "dim")


@_renders("Requested")
def _requested(result: Requested, out: Output) -> None:
    out.line(result.message)


@_renders("NextResult")
def _next(result: NextResult, out: Output) -> None:
    after = result.after.astimezone(result.zone).isoformat(timespec="seconds")
    if result.reboot:
        out.line(f"{result.schedule} runs once per boot of the machine, never at a clock time.")
        return
    if not result.times:
        out.line(f"{result.schedule} has no fire time after {after}.")
        return
    out.line(f"{result.schedule} in {result.timezone}, after {after}:", "bold")
    previous_offset = result.after.astimezone(result.zone).utcoffset()
    for moment in result.times:
        offset = moment.utcoffset()
        parts = [
            Cell(moment.strftime("%a "), "dim"),
            Cell(moment.isoformat()),
            Cell(f"  = {moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}", "dim"),
        ]
        if offset != previous_offset:
            parts.append(
                Cell(
                    f"  (UTC offset changes {_offset(previous_offset)} → {_offset(offset)})",
                    "yellow",
                )
            )
        out.segments(parts)
        previous_offset = offset


def _offset(delta: Any) -> str:
    if delta is None:
        return "?"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


@_renders("WhyAnswer")
def _why(result: WhyAnswer, out: Output) -> None:
    for sentence in result.explanation:
        out.line(sentence)


@_renders("ValidateResult")
def _validate(result: ValidateResult, out: Output) -> None:
    count = len(result.jobs)
    out.line(f"{result.path}: {count} job{'s' * (count != 1)} OK", "green")


@_renders("UnitResult")
def _unit(result: UnitResult, out: Output) -> None:
    out.stream.write(result.text)
