"""``cronpy status`` and ``cronpy history`` without typer: the read paths people run most.

Building typer's command line costs more than the command itself (importing typer and turning
every command's signature into click parameters: ~40 ms of a ~60 ms ``status``). So
``cronpy.cli.main`` first offers the arguments to ``parse``, which accepts only the plain,
well-formed spellings of these two commands and answers None for anything else (``--help``, a
typo, a bad number, shell completion): typer then handles it, with its usual messages. The
bodies below are the ones the typer wiring calls too, so both ways run the same code.

``cronpy run`` goes the same way (``parse_run``), for memory rather than time: typer and what
it loads (click, inspect, subprocess, uuid...) would stay resident in the daemon, ~2 MiB.
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


_RUN: dict[str, tuple[str, bool]] = {
    "--daemon": ("daemon", False),
    "--store": ("store", True),
    "--log-format": ("log_format", True),
    "--pid-file": ("pid_file", True),
    "--allow-duplicate": ("allow_duplicate", False),
    "--metrics": ("metrics", True),
}


def parse(args: list[str]) -> tuple[Callable[..., int], dict[str, Any]] | None:
    """The body and keyword arguments for ``args`` when they are a plain ``status`` or
    ``history``; None when typer should parse them."""
    if "--store" in args or any(a.startswith("--store=") for a in args):
        return None  # a global option the fast path does not parse: typer does
    split = _command(args, ("status", "history"))
    if split is None:
        return None
    state, command, rest = split
    body, options = (show_status, _STATUS) if command == "status" else (show_history, _HISTORY)
    kwargs = _options(rest, options, "job")
    if kwargs is None:
        return None
    kwargs["state_option"] = state
    if "limit" in kwargs:
        try:
            kwargs["limit"] = int(kwargs["limit"])  # what click's INT does
        except ValueError:
            return None
    return body, kwargs


def parse_run(args: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of ``start_runner`` when ``args`` are a plain ``run FILE ...``;
    None when typer should parse them (a root ``--store``, ``--help``, no FILE, a typo...)."""
    split = _command(args, ("run",))
    if split is None:
        return None
    state, _, rest = split
    kwargs = _options(rest, _RUN, "file")
    if kwargs is None or "file" not in kwargs:
        return None
    kwargs["state_option"] = state
    kwargs["file"] = Path(kwargs["file"])  # as typer hands them over
    if "pid_file" in kwargs:
        kwargs["pid_file"] = Path(kwargs["pid_file"])
    return kwargs


def _command(args: list[str], names: tuple[str, ...]) -> tuple[str | None, str, list[str]] | None:
    """The root ``--state-dir`` (as typer hands it on), the command, and what follows it."""
    if any(name.startswith("_CRONPY_COMPLETE") for name in os.environ):
        return None  # shell completion is typer's
    state: str | None = None
    rest = args
    if rest and rest[0].startswith("--state-dir="):
        state, rest = rest[0].partition("=")[2], rest[1:]
    elif len(rest) >= 2 and rest[0] == "--state-dir" and not rest[1].startswith("-"):
        state, rest = rest[1], rest[2:]
    if not rest or rest[0] not in names:
        return None
    # typer hands the option over as a Path, and the wiring takes str() of it: "" becomes "."
    return None if state is None else str(Path(state)), rest[0], rest[1:]


def _options(
    tokens: list[str], options: dict[str, tuple[str, bool]], positional: str
) -> dict[str, Any] | None:
    """``tokens`` as keyword arguments: the options named in ``options`` and one positional;
    None for anything else, which typer then reports in its words."""
    kwargs: dict[str, Any] = {}
    each = iter(tokens)
    for token in each:
        # "--limit=5" as click reads it; "-n=5" click reads as the value "=5": typer's error
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if token.startswith("-"):
            if name not in options or (eq and not options[name][1]):
                return None
            key, takes_value = options[name]
            if not takes_value:
                kwargs[key] = True
                continue
            value = inline if eq else next(each, None)
            if value is None or (not eq and value.startswith("-")):
                return None
            kwargs[key] = value
        elif positional in kwargs:
            return None  # an extra argument: typer's message
        else:
            kwargs[positional] = token
    return kwargs


def start_runner(
    *,
    state_option: str | None,
    file: Path,
    daemon: bool = False,
    store: str | None = None,
    log_format: str = "text",
    pid_file: Path | None = None,
    allow_duplicate: bool = False,
    metrics: str | None = None,
) -> int:
    """``cronpy run``: the checks of its options, then the runner."""
    from cronpy.errors import UsageError
    from cronpy.runtime.start import run_runner
    from cronpy.runtime.statedir import resolve_state_dir

    if log_format not in ("text", "json"):
        raise UsageError(f"invalid --log-format {log_format!r}: expected text or json")
    if store is not None:  # refuse a URL this build cannot open before touching any state
        from cronpy.model.storeurl import parse_store_url

        parse_store_url(store)
    if metrics is not None:
        from cronpy.runtime.metrics import parse_address

        parse_address(metrics)  # a bad address is an input error before anything starts
    return run_runner(
        file,
        state_dir=resolve_state_dir(state_option),
        store_url=store,
        daemon=daemon,
        log_format=log_format,
        pid_file=pid_file,
        allow_duplicate=allow_duplicate,
        metrics=metrics,
    )


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
            # JSON carries each time's own offset: no zone to show, so no zoneinfo to load
            zone=None if as_json else shown_zone(utc),
            paged=not (all_jobs or as_json),
        )
    _render(result, as_json)
    return 0


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
