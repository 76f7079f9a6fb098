"""Commands that make or change a job file: ``import-crontab`` (a crontab turned into one)
and ``edit`` (``crontab -e`` for a job file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cronpy.cli.wiring import note, render, state_dir


def import_crontab(
    source: Annotated[
        str | None,
        typer.Argument(metavar="[FILE|-]", help="The crontab (default: standard input)."),
    ] = None,
    system: Annotated[
        bool | None,
        typer.Option(
            "--system/--user",
            help="System format (a user column, as /etc/crontab and /etc/cron.d) or a user's "
            "crontab. Default: detected from the content.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the job file here instead of stdout."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --output: replace an existing file.")
    ] = False,
) -> int:
    """Convert a crontab into a job file.

    Read by Debian cron's rules; exit 1 if some lines could not be converted (each named on
    stderr), 2 if none could."""
    from cronpy.cli.commands.import_crontab import import_crontab as convert

    result = convert(source, stdin=sys.stdin, system=system, output=output, force=force)
    for skipped in result.conversion.skipped:
        note(f"{result.source}:{skipped.line}: {skipped.message}")
    if not result.conversion.jobs:
        note(f"nothing to convert: {result.source} has no usable crontab line")
    render(result)
    return result.exit_code


def edit(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="The job file (default: the one the running runner runs)."),
    ] = None,
) -> int:
    """Edit a job file like crontab -e.

    A checked copy replaces it atomically, then the runner reloads; a file with problems is
    never saved."""
    from cronpy.cli.commands.edit import default_file, edit_file, reload_runner
    from cronpy.launch.editor import run_editor

    chosen = state_dir(ctx)
    target = default_file(chosen) if file is None else file
    ask = input if sys.stdin.isatty() and sys.stderr.isatty() else None
    result = edit_file(
        target,
        editor=run_editor,
        ask=ask,
        reload=lambda edited: reload_runner(chosen, edited),
        problems_out=lambda text: print(text, file=sys.stderr),
    )
    render(result)
    return result.exit_code
