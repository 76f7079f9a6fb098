"""Commands that only read: the state (``status``, ``history``, ``logs``, ``why``), a schedule
(``next``) or a job file (``validate``, ``systemd-unit``). None of them writes anything."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from cronpy.cli.wiring import JsonOption, complete_job, now, open_state, render, write_bytes


def status(
    ctx: typer.Context,
    job: Annotated[
        str | None, typer.Argument(help="Only this job.", autocompletion=complete_job)
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Show jobs with schedule, next run, last result, running runs and pauses; and the runner."""
    from cronpy.cli.commands.status import status as build
    from cronpy.runtime.statedir import runner_alive

    state_dir, store = open_state(ctx)
    with closing(store):
        result = build(
            store, state_dir=state_dir, runner=runner_alive(state_dir), job=job, now=now()
        )
    render(result, as_json)
    return 0


def history(
    ctx: typer.Context,
    job: Annotated[
        str | None, typer.Argument(help="Only this job's runs.", autocompletion=complete_job)
    ] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many runs to show.")] = 20,
    status_name: Annotated[
        str | None,
        typer.Option("--status", help="Only runs with this status (succeeded, failed, ...)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help='Only runs since then: "2h" ago or an ISO 8601 time.'),
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Show past runs, newest first, under a coloured success/failure strip."""
    from cronpy.cli.commands.common import local_zone, parse_since
    from cronpy.cli.commands.history import history as build
    from cronpy.cli.commands.history import parse_status

    wanted = None if status_name is None else parse_status(status_name)
    start = None if since is None else parse_since(since, now=now(), tz=local_zone())
    state_dir, store = open_state(ctx)
    with closing(store):
        result = build(store, state_dir=state_dir, job=job, limit=limit, status=wanted, since=start)
    render(result, as_json)
    return 0


def logs(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.", autocompletion=complete_job)],
    run_id: Annotated[
        int | None, typer.Argument(metavar="[RUN]", help="Run id (default: the latest).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing while the run goes on.")
    ] = False,
) -> int:
    """Print a run's output (stdout and stderr as written)."""
    import time

    from cronpy.cli.commands.logs import follow as follow_log
    from cronpy.cli.commands.logs import pick_run, read_log

    state_dir, store = open_state(ctx)
    with closing(store):
        run = pick_run(store, state_dir=state_dir, job=job, run_id=run_id)
        write_bytes(follow_log(store, run, sleep=time.sleep) if follow else read_log(run))
    return 0


def top(ctx: typer.Context) -> int:
    """A live full-screen view: running now (with output), next, failures, late jobs, runner.
    Refreshes once a second from the state; q or Ctrl-C quits."""
    from cronpy.cli.commands.top import snapshot
    from cronpy.cli.render.top import live
    from cronpy.runtime.statedir import runner_alive

    state_dir, store = open_state(ctx)
    with closing(store):
        live(lambda: snapshot(store, runner=runner_alive(state_dir), now=now()))
    return 0


def why(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.", autocompletion=complete_job)],
    at: Annotated[
        str | None,
        typer.Argument(
            metavar="[T]",
            help="ISO 8601 time (naive: in the job's zone). Default: its last due time.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="The job file, to take window, max_runs and enabled into account."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Explain why a job did or did not run at T, and when and why it runs next."""
    from cronpy.cli.commands.explain import explain

    state_dir, store = open_state(ctx)
    with closing(store):
        result = explain(store, state_dir=state_dir, job=job, at=at, job_file=file, now=now())
    render(result, as_json)
    return 0


def next_(
    schedule: Annotated[str, typer.Argument(help='A schedule, like "0 2 * * *" or "every 15m".')],
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA time zone (default: the system's).")
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--after", help="Start after this ISO 8601 time (naive: in --tz)."),
    ] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="How many fire times.")] = 5,
    job: Annotated[
        str, typer.Option("--job", help="Job name, for H fields (hashed from the name).")
    ] = "",
    as_json: JsonOption = False,
) -> int:
    """Show the next fire times of a schedule, strictly after a time, with the DST rule applied."""
    from cronpy.cli.commands.preview import next_fire_times

    result = next_fire_times(schedule, tz=tz, after=after, count=count, job=job, now=now())
    render(result, as_json)
    return 0


def validate(
    file: Annotated[Path, typer.Argument(help="The TOML job file.")],
    as_json: JsonOption = False,
) -> int:
    """Check a job file: exit 0, or 2 listing every problem (file:line:col: job, key: message)."""
    from cronpy.cli.commands.validate import validate as check

    render(check(file), as_json)
    return 0


def systemd_unit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The TOML job file.")],
    user: Annotated[
        str | None,
        typer.Option("--user", help="Run as NAME or NAME:GROUP (User=, Group=).", metavar="NAME"),
    ] = None,
    writable: Annotated[
        list[Path] | None,
        typer.Option("--writable", help="A path the jobs write to (ReadWritePaths=); repeatable."),
    ] = None,
) -> int:
    """Print a systemd service unit that runs FILE (Type=notify, watchdog, hardening)."""
    from cronpy.cli.commands.systemd import systemd_unit as build

    chosen = ctx.find_root().params.get("state_dir")
    render(build(file, state_dir=chosen, user=user, writable=writable))
    return 0
