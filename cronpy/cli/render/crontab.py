"""Views of ``cronpy import-crontab`` and ``cronpy edit``."""

from __future__ import annotations

from cronpy.cli.commands.edit import EditResult
from cronpy.cli.commands.import_crontab import ImportResult
from cronpy.cli.render.base import Output, view


@view(ImportResult)
def imported(result: ImportResult, out: Output) -> None:
    if result.output is None:
        if result.conversion.jobs:
            out.stream.write(result.conversion.text)  # the job file itself, for a redirect
        return
    count = len(result.conversion.jobs)
    out.line(f"{result.output}: {count} job{'s' * (count != 1)} written", "green")


@view(EditResult)
def edited(result: EditResult, out: Output) -> None:
    out.line(result.message, "green" if result.exit_code == 0 else "red")
