"""Views of what a command changed or asked for: ``pause``/``resume``, the requests
``trigger``, ``cancel`` and ``reload`` leave for the runner, and ``stop``."""

from __future__ import annotations

from cronpy.cli.commands.control import Requested
from cronpy.cli.commands.pause import PauseResult
from cronpy.cli.commands.stop import Stopped
from cronpy.cli.commands.store_copy import CopyResult
from cronpy.cli.render.base import Output, view
from cronpy.cli.render.words import when


@view(PauseResult)
def pause(result: PauseResult, out: Output) -> None:
    for change in result.changes:
        until = "" if change.until is None else f" until {when(change.until, result.zone)}"
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


@view(Requested)
def requested(result: Requested, out: Output) -> None:
    out.line(result.message)


@view(Stopped)
def stopped(result: Stopped, out: Output) -> None:
    out.line(f"stopped the runner (pid {result.pid} on {result.host}) in {result.seconds:g}s")


@view(CopyResult)
def copied(result: CopyResult, out: Output) -> None:
    out.line(
        f"copied into {result.target}: {result.jobs} job state(s), {result.paused} pause(s),"
        f" {result.added} of {result.runs} finished record(s) (the rest were there already)"
    )
