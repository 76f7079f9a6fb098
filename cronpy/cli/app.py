"""The typer application: the global options, the table of commands, and running it.

Separate from ``cronpy.cli.main`` so that ``cronpy --version`` and the error boundary do not pay
for importing typer. Each command's arguments and body live in ``cronpy.cli.wiring`` and import
what they need inside the body (store, schedule, rich through the renderer), so a command
costs only its own imports.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from cronpy import __version__
from cronpy.cli.wiring import controls, files, reads
from cronpy.cli.wiring.store import store_app

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
            metavar="DIR",
            envvar="CRONPY_STATE_DIR",
            help="State directory (history, locks, logs). Default: /var/lib/cronpy for root, "
            "else the user's state directory.",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            envvar="CRONPY_STORE",
            help="The store the runners share (postgresql://...). Default: the one the state"
            " directory's runner uses, else its SQLite file.",
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


class Command(TyperCommand):
    """One placeholder style in every command's help: upper case, ``[X]`` when optional,
    never typer's ``{x}`` or ``<str>`` (a command's own metavar wins)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None and param.name:
                param.metavar = param.name.upper().removesuffix("_")

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                continue
            name = str(param.metavar)
            if name.startswith("["):
                pieces.append(name)
            else:
                pieces.append(name if param.required else f"[{name}]")
        return pieces


# The commands, in the order ``cronpy --help`` lists them. A name is the function's (with
# dashes for underscores) unless given. Each summary there is the first sentence of the
# docstring, short enough to show whole (a test holds them to it).
command = app.command
command(cls=Command)(controls.run)
command(cls=Command)(controls.stop)
# reading the state
command(cls=Command)(reads.status)
command(cls=Command)(reads.history)
command(cls=Command)(reads.logs)
command(cls=Command)(reads.top)
# changing the state
command(cls=Command)(controls.pause)
command(cls=Command)(controls.resume)
# asking the runner
command(cls=Command)(controls.trigger)
command(cls=Command)(controls.cancel)
command(cls=Command)(controls.reload)
# schedules and files
command("next", cls=Command)(reads.next_)
command(cls=Command)(reads.why)
command(cls=Command)(reads.validate)
command("systemd-unit", cls=Command, short_help="Print a systemd service unit for FILE.")(
    reads.systemd_unit
)
command("import-crontab", cls=Command)(files.import_crontab)
app.add_typer(store_app)
command(cls=Command)(files.edit)


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
