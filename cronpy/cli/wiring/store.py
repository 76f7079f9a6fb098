"""``cronpy store ...``: commands on the store itself."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer

from cronpy.cli.wiring import JsonOption, open_state, render

store_app = typer.Typer(
    name="store",
    help="Copy the state into another store.",
    no_args_is_help=True,
    add_completion=False,
)


@store_app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", metavar="URL", help="The store to copy into (postgresql://...).")
    ],
    as_json: JsonOption = False,
) -> int:
    """Copy the state into the store at URL.

    Job states, pauses and finished history; running it twice adds nothing."""
    from cronpy.cli.commands.store_copy import copy_store
    from cronpy.store import open_store
    from cronpy.store.postgres.connection import describe

    state_dir, source = open_state(ctx)
    with closing(source), closing(open_store(state_dir, to)) as target:
        where = describe(to) if to.startswith(("postgresql:", "postgres:")) else to
        result = copy_store(source, target, where=where)
    render(result, as_json)
    return 0
