"""Views of what was made from a job file: ``cronpy validate`` and ``cronpy systemd-unit``."""

from __future__ import annotations

from cronpy.cli.commands.systemd import UnitResult
from cronpy.cli.commands.validate import ValidateResult
from cronpy.cli.render.base import Output, view


@view(ValidateResult)
def validate(result: ValidateResult, out: Output) -> None:
    count = len(result.jobs)
    out.line(f"{result.path}: {count} job{'s' * (count != 1)} OK", "green")
    for warning in result.warnings:
        out.line(str(warning), "yellow")


@view(UnitResult)
def unit(result: UnitResult, out: Output) -> None:
    out.stream.write(result.text)  # the unit file exactly, for a redirect into place
