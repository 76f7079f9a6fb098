"""The view of ``cronpy next``: the fire times, each marked where the UTC offset changes."""

from __future__ import annotations

from datetime import UTC

from cronpy.cli.commands.preview import NextResult
from cronpy.cli.render.base import Cell, Output, view
from cronpy.cli.render.words import utc_offset


@view(NextResult)
def next_times(result: NextResult, out: Output) -> None:
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
            Cell(moment.isoformat(timespec="seconds")),  # as every other command shows times
            Cell(f"  = {moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}", "dim"),
        ]
        if offset != previous_offset:
            change = f"{utc_offset(previous_offset)} → {utc_offset(offset)}"
            parts.append(Cell(f"  (UTC offset changes {change})", "yellow"))
        out.segments(parts)
        previous_offset = offset
