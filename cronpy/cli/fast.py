"""``cronpy status`` and ``cronpy history`` without typer: the read paths people run most.

Building typer's command line costs more than the command itself (importing typer and turning
every command's signature into click parameters: ~40 ms of a ~60 ms ``status``). So
``cronpy.cli.main`` first offers the arguments to ``parse``, which accepts only the plain,
well-formed spellings of these two commands and answers None for anything else (``--help``, a
typo, a bad number, shell completion): typer then handles it, with its usual messages. The
bodies below are the ones the typer wiring calls too, so both ways run the same code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronpy.interfaces import Store

# option -> (keyword, takes a value); the same spellings cronpy.cli.wiring.reads declares
_COMMON: dict[str, tuple[str, bool]] = {"--utc": ("utc", False), "--json": ("as_json", False)}
_STATUS: dict[str, tuple[str, bool]] = {**_COMMON, "--all": ("all_jobs", False)}
_HISTORY: dict[str, tuple[str, bool]] = {
    **_COMMON,
    "-n": ("limit", True),
    "--limit": ("limit", True),
    "--status": ("status_name", True),
    "--since": ("since", True),
}


def parse(args: list[str]) -> tuple[Callable[..., int], dict[str, Any]] | None:
    """The body and keyword arguments for ``args`` when they are a plain ``status`` or
    ``history``; None when typer should parse them."""
    if "--store" in args or any(a.startswith("--store=") for a in args):
        return None  # a global option the fast path does not parse: typer does
    if any(name.startswith("_CRONPY_COMPLETE") for name in os.environ):
        return None  # shell completion is typer's
    state: str | None = None
    rest = args
    if rest and rest[0].startswith("--state-dir="):
        state, rest = rest[0].partition("=")[2], rest[1:]
    elif len(rest) >= 2 and rest[0] == "--state-dir" and not rest[1].startswith("-"):
        state, rest = rest[1], rest[2:]
    if not rest or rest[0] not in ("status", "history"):
        return None
    body, options = (show_status, _STATUS) if rest[0] == "status" else (show_history, _HISTORY)
    # typer hands the option over as a Path, and the wiring takes str() of it: "" becomes "."
    kwargs: dict[str, Any] = {"state_option": None if state is None else str(Path(state))}
    tokens = iter(rest[1:])
    for token in tokens:
        # "--limit=5" as click reads it; "-n=5" click reads as the value "=5": typer's error
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if token.startswith("-"):
            if name not in options or (eq and not options[name][1]):
                return None
            key, takes_value = options[name]
            if not takes_value:
                kwargs[key] = True
                continue
            value = inline if eq else next(tokens, None)
            if value is None or (not eq and value.startswith("-")):
                return None
            kwargs[key] = value
        elif "job" in kwargs:
            return None  # an extra argument: typer's message
        else:
            kwargs["job"] = token
    if "limit" in kwargs:
        try:
            kwargs["limit"] = int(kwargs["limit"])  # what click's INT does
        except ValueError:
            return None
    return body, kwargs


def show_status(
    *,
    state_option: str | None,
    store_option: str | None = None,
    job: str | None = None,
    utc: bool = False,
    as_json: bool = False,
    all_jobs: bool = False,
) -> int:
    from cronpy.cli.commands.common import shown_zone
    from cronpy.cli.commands.status import status as build
    from cronpy.runtime.statedir import runner_alive

    state_dir, store = _open(state_option, store_option)
    with closing(store):
        result = build(
            store,
            state_dir=state_dir,
            runner=runner_alive(state_dir),
            job=job,
            now=datetime.now(UTC),
            zone=shown_zone(utc),
            # a table people read: 100,000 jobs take seconds to print and scroll out of sight
            limit=None if all_jobs or as_json else STATUS_PAGE,
        )
    _render(result, as_json)
    return 0


STATUS_PAGE = 100  # jobs `status` lists without --all (JSON: every job)


def show_history(
    *,
    state_option: str | None,
    store_option: str | None = None,
    job: str | None = None,
    limit: int = 20,
    status_name: str | None = None,
    since: str | None = None,
    utc: bool = False,
    as_json: bool = False,
) -> int:
    from cronpy.cli.commands.common import check_count, parse_since, shown_zone
    from cronpy.cli.commands.history import history as build
    from cronpy.cli.commands.history import parse_status

    check_count(limit)
    zone = shown_zone(utc)
    wanted = None if status_name is None else parse_status(status_name)
    start = None if since is None else parse_since(since, now=datetime.now(UTC), tz=zone)
    state_dir, store = _open(state_option, store_option)
    with closing(store):
        result = build(
            store,
            state_dir=state_dir,
            job=job,
            limit=limit,
            status=wanted,
            since=start,
            zone=zone,
        )
    _render(result, as_json)
    return 0


def _open(state_option: str | None, store_option: str | None) -> tuple[Path, Store]:
    from cronpy.cli.commands.common import open_state
    from cronpy.runtime.statedir import resolve_state_dir

    state_dir = resolve_state_dir(state_option)
    url = store_option or os.environ.get("CRONPY_STORE") or None
    return state_dir, open_state(state_dir, url=url)


def _render(result: Any, as_json: bool) -> None:
    from cronpy.cli.render import render

    render(result, as_json=as_json)
