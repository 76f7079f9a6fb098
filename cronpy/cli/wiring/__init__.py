"""The typer side of each command: its arguments, options and help text, and the few lines
that turn them into one call of ``cronpy.cli.commands`` and one ``render``; ``cronpy.cli.app``
puts them on the command line. ``reads`` holds the commands that only read, ``controls``
those that change something.

Here: what the wiring of every command uses (the state directory the root option names, the
store in it, ``now``, the renderer, the ``--json`` option, writing for a person). Nothing
heavy is imported at module level: each command loads what it needs in its body.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cronpy.interfaces import Store
    from cronpy.model import Run

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]
UtcOption = Annotated[
    bool, typer.Option("--utc", help="Show times in UTC, and read times without a zone in UTC.")
]


def now() -> datetime:
    return datetime.now(UTC)


def state_option(ctx: typer.Context) -> str | None:
    """The root ``--state-dir`` (or $CRONPY_STATE_DIR, which typer reads into it) as given."""
    option: Path | None = ctx.find_root().params.get("state_dir")
    return None if option is None else str(option)


def state_dir(ctx: typer.Context) -> Path:
    from cronpy.runtime.statedir import resolve_state_dir

    return resolve_state_dir(state_option(ctx))


def open_state(ctx: typer.Context, *, write: bool = False) -> tuple[Path, Store]:
    """The state directory and its store (closed by the caller: ``with closing(store)``)."""
    from cronpy.cli.commands.common import open_state as open_store

    chosen = state_dir(ctx)
    return chosen, open_store(chosen, write=write, url=ctx.find_root().params.get("store"))


def render(result: Any, as_json: bool = False) -> None:
    from cronpy.cli.render import render as draw

    draw(result, as_json=as_json)


def write_bytes(chunks: Iterable[bytes]) -> None:
    out = sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
        out.flush()  # a follower wants each piece as it comes


def note(text: str, *, prefix: bool = True) -> None:
    """Progress for a person, kept off stdout so the job's own output stays clean."""
    sys.stderr.write(f"cronpy: {text}\n" if prefix else f"{text}\n")
    sys.stderr.flush()


def follower(store: Store, state_dir: Path, run: Run) -> Iterable[bytes]:
    """``run``'s output as it comes, until it ends; exit 3 (RunnerGone) if the runner dies
    first, which the runner lock tells (a killed runner records nothing)."""
    import time

    from cronpy.cli.commands.logs import follow
    from cronpy.runtime.statedir import runner_alive

    return follow(store, run, sleep=time.sleep, alive=lambda: runner_alive(state_dir) is not None)


def complete_job(ctx: typer.Context, incomplete: str) -> list[str]:
    """Job names for shell completion, from the state's jobs table: one indexed read, no
    store object, no migration; nothing at all (never an error) when there is no state."""
    import sqlite3

    from cronpy.runtime.statedir import db_path

    try:
        path = db_path(state_dir(ctx))
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0.2)
        try:
            rows = db.execute(
                "SELECT name FROM jobs WHERE present = 1 AND substr(name, 1, ?) = ?"
                " ORDER BY name LIMIT 1000",
                (len(incomplete), incomplete),
            ).fetchall()
        finally:
            db.close()
    except (sqlite3.Error, OSError, ValueError):
        return []
    return [str(name) for (name,) in rows]
