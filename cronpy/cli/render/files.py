"""Views of files: a job file checked (``cronpy validate``), a unit made from one
(``cronpy systemd-unit``), and a run's log (``cronpy logs``)."""

from __future__ import annotations

from cronpy.cli.commands.logs import LogResult
from cronpy.cli.commands.systemd import UnitResult
from cronpy.cli.commands.validate import Refused, ValidateResult
from cronpy.cli.render.base import Output, view


@view(ValidateResult)
def validate(result: ValidateResult, out: Output) -> None:
    count = len(result.jobs)
    out.line(f"{result.path}: {count} job{'s' * (count != 1)} OK", "green")
    for warning in result.warnings:
        out.line(str(warning), "yellow")


@view(Refused)
def refused(result: Refused, out: Output) -> None:
    for problem in result.problems:
        out.line(str(problem), "red")


@view(UnitResult)
def unit(result: UnitResult, out: Output) -> None:
    out.stream.write(result.text)  # the unit file exactly, for a redirect into place


@view(LogResult)
def log(result: LogResult, out: Output) -> None:
    out.stream.write(result.output)  # the output as the job wrote it
