"""The typer application: the global options, the table of commands, and running it.

Separate from ``cronpy.cli.main`` so that ``cronpy --version`` and the error boundary do not pay
for importing typer. Each command's arguments and body live in ``cronpy.cli.wiring`` and import
what they need inside the body (store, schedule, rich through the renderer), so a command
costs only its own imports.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cronpy import __version__
from cronpy.cli.wiring import controls, reads

app = typer.Typer(
    name="cronpy",
    help="A cron replacement that records every run: one TOML job file, one runner, history "
    "you can query.",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"cronpy {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            envvar="CRONPY_STATE_DIR",
            help="State directory (history, locks, logs). Default: /var/lib/cronpy for root, "
            "else the user's state directory.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """A cron replacement that records every run: one TOML job file, one runner, history you
    can query."""


# The commands, in the order ``cronpy --help`` lists them. A name is the function's (with
# dashes for underscores) unless given.
app.command()(controls.run)
# reading the state
app.command()(reads.status)
app.command()(reads.history)
app.command()(reads.logs)
app.command()(reads.top)
# changing the state
app.command()(controls.pause)
app.command()(controls.resume)
# asking the runner
app.command()(controls.trigger)
app.command()(controls.cancel)
app.command()(controls.reload)
# schedules and files
app.command("next")(reads.next_)
app.command()(reads.why)
app.command()(reads.validate)
app.command("systemd-unit")(reads.systemd_unit)


def run_app(args: list[str]) -> int:
    """Run the command line ``args``; the exit code. Errors propagate to ``cronpy.cli.main``."""
    try:
        code = app(args=args, prog_name="cronpy", standalone_mode=False)
    except _CLICK_EXCEPTION as exc:  # bad arguments: usage and the message, exit 2
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        sys.stderr.write("cronpy: aborted\n")
        return 1
    return code if isinstance(code, int) else 0


# Parsing errors derive from click's ClickException, which typer either bundles or imports
# depending on its version; reach it through a class typer does export.
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
