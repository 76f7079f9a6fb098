"""Commands that only read: the state (``status``, ``history``, ``logs``, ``why``), a schedule
(``next``) or a job file (``validate``, ``systemd-unit``). None of them writes anything."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from cronpy.cli.wiring import (
    JsonOption,
    UtcOption,
    complete_job,
    now,
    open_state,
    render,
    state_option,
    write_bytes,
)


def status(
    ctx: typer.Context,
    job: Annotated[
        str | None,
        typer.Argument(metavar="[JOB]", help="Only this job.", autocompletion=complete_job),
    ] = None,
    utc: UtcOption = False,
    as_json: JsonOption = False,
    all_jobs: Annotated[
        bool,
        typer.Option("--all", help="Every job (past 1,000 jobs, else the first 100 by name)."),
    ] = False,
) -> int:
    """Show the jobs, their next and last runs, and the runner.

    For each job: schedule, next run, last result, what runs now, pauses, disabled and late
    jobs. With no runner up, the next run says when it would run. Past 1,000 jobs the
    table shows the first 100 by name and says so; --all and --json list them all."""
    from cronpy.cli.fast import show_status

    return show_status(
        state_option=state_option(ctx),
        store_option=ctx.find_root().params.get("store"),
        job=job,
        utc=utc,
        as_json=as_json,
        all_jobs=all_jobs,
    )


def history(
    ctx: typer.Context,
    job: Annotated[
        str | None,
        typer.Argument(metavar="[JOB]", help="Only this job's runs.", autocompletion=complete_job),
    ] = None,
    limit: Annotated[
        int, typer.Option("-n", "--limit", metavar="N", help="How many runs to show.")
    ] = 20,
    status_name: Annotated[
        str | None,
        typer.Option(
            "--status", metavar="STATUS", help="Only runs with this status (succeeded, failed...)."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="TIME", help='Only runs since then: "2h" ago or an ISO 8601 time.'
        ),
    ] = None,
    utc: UtcOption = False,
    as_json: JsonOption = False,
) -> int:
    """Show past runs, newest first, under a strip of outcomes.

    The strip shows each run's outcome in colour (letters without colour), oldest first."""
    from cronpy.cli.fast import show_history

    return show_history(
        state_option=state_option(ctx),
        store_option=ctx.find_root().params.get("store"),
        job=job,
        limit=limit,
        status_name=status_name,
        since=since,
        utc=utc,
        as_json=as_json,
    )


def logs(
    ctx: typer.Context,
    job: Annotated[
        str,
        typer.Argument(
            metavar="JOB",
            help="The job (or a run id, where no job has that name).",
            autocompletion=complete_job,
        ),
    ],
    run_arg: Annotated[
        int | None,
        typer.Argument(metavar="[RUN]", help="Run id of JOB (default: its latest)."),
    ] = None,
    run_id: Annotated[
        int | None,
        typer.Option("--run", metavar="ID", help="Run id of JOB (default: its latest)."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("-f", "--follow", help="Keep printing while the run goes on; then its end."),
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Print a run's output (stdout and stderr as written).

    With --follow, the run's final status line comes last, on stderr. --json prints the run's
    record and its output (after the run ends, with --follow)."""
    from cronpy.cli.commands.logs import LogResult, pick_run, read_log
    from cronpy.cli.render.words import end_marker
    from cronpy.cli.wiring import follower, note
    from cronpy.errors import UsageError

    if run_arg is not None and run_id is not None and run_arg != run_id:
        raise UsageError(f"give the run once: RUN {run_arg} or --run {run_id}")
    state_dir, store = open_state(ctx)
    with closing(store):
        run = pick_run(store, state_dir=state_dir, target=job, run_id=run_arg or run_id)
        chunks = follower(store, state_dir, run) if follow else read_log(run)
        if as_json:
            text = b"".join(chunks).decode("utf-8", "replace")
            render(LogResult(store.get_run(run.id) or run, text), as_json=True)
            return 0
        write_bytes(chunks)
        ended = store.get_run(run.id) or run
    if follow:
        note(end_marker(ended), prefix=False)
    return 0


def top(ctx: typer.Context) -> int:
    """A live full-screen view of the runner and its jobs.

    Running now (with output), next, failures, late jobs, runners; refreshes once a second from
    the state; q or Ctrl-C quits."""
    from cronpy.cli.commands.top import snapshot
    from cronpy.cli.render.top import live
    from cronpy.runtime.statedir import runner_alive

    state_dir, store = open_state(ctx)
    with closing(store):
        live(lambda: snapshot(store, runner=runner_alive(state_dir), now=now()))
    return 0


def why(
    ctx: typer.Context,
    job: Annotated[
        str, typer.Argument(metavar="JOB", help="The job.", autocompletion=complete_job)
    ],
    at: Annotated[
        str | None,
        typer.Argument(
            metavar="[TIME]",
            help="ISO 8601 time (naive: local, or UTC with --utc). Default: its last due time.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="FILE",
            help="The job file, to take window, max_runs and enabled into account.",
        ),
    ] = None,
    utc: UtcOption = False,
    as_json: JsonOption = False,
) -> int:
    """Explain why a job ran or not, and when it runs next.

    About TIME (default: the job's last due time): what was recorded, or why nothing was."""
    from cronpy.cli.commands.common import shown_zone
    from cronpy.cli.commands.explain import explain

    state_dir, store = open_state(ctx)
    with closing(store):
        result = explain(
            store,
            state_dir=state_dir,
            job=job,
            at=at,
            job_file=file,
            now=now(),
            zone=shown_zone(utc),
        )
    render(result, as_json)
    return 0


def next_(
    schedule: Annotated[
        str,
        typer.Argument(metavar="SCHEDULE", help='A schedule, like "0 2 * * *" or "every 15m".'),
    ],
    tz: Annotated[
        str | None,
        typer.Option("--tz", metavar="TZ", help="IANA time zone (default: the local one)."),
    ] = None,
    utc: Annotated[bool, typer.Option("--utc", help="The same as --tz UTC.")] = False,
    after: Annotated[
        str | None,
        typer.Option(
            "--after", metavar="TIME", help="Start after this ISO 8601 time (naive: in --tz)."
        ),
    ] = None,
    count: Annotated[
        int, typer.Option("-n", "--count", metavar="N", help="How many fire times.")
    ] = 5,
    job: Annotated[
        str,
        typer.Option("--job", metavar="JOB", help="Job name, for H fields (hashed from the name)."),
    ] = "",
    as_json: JsonOption = False,
) -> int:
    """Show the next fire times of a schedule.

    Strictly after a time (default: now), with the daylight-saving rule applied."""
    from cronpy.cli.commands.common import check_count
    from cronpy.cli.commands.preview import next_fire_times
    from cronpy.errors import UsageError

    if utc and tz is not None and tz != "UTC":
        raise UsageError("give --tz or --utc, not both")
    check_count(count)
    zone = "UTC" if utc else tz
    result = next_fire_times(schedule, tz=zone, after=after, count=count, job=job, now=now())
    render(result, as_json)
    return 0


def validate(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The TOML job file.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 2 when there are warnings too.")
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Check a job file as `cronpy run` would.

    Exit 0, or 2 listing every problem (file:line:col: job, key: message); with --json, one
    document on stdout either way. Warnings (daylight-saving gaps, uneven steps, ...) do not
    fail it unless --strict."""
    from cronpy.cli.commands.validate import Refused
    from cronpy.cli.commands.validate import validate as check
    from cronpy.errors import ConfigError

    try:
        result = check(file, now=now())
    except ConfigError as exc:
        if not as_json:
            raise
        render(Refused(file, exc.problems), as_json=True)
        return exc.exit_code
    render(result, as_json)
    return 2 if strict and result.warnings else 0


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
