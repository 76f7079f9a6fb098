"""The typer application: parse the command line, call one command, render its result.

Separate from ``cronpy.cli.main`` so that ``cronpy --version`` and the error boundary do not pay
for importing typer. Each command imports what it needs inside its body (store, schedule,
rich through the renderer), so a command costs only its own imports.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cronpy import __version__

if TYPE_CHECKING:
    from cronpy.interfaces import Store

app = typer.Typer(
    name="cronpy",
    help="A cron replacement that records every run: one TOML job file, one runner, history "
    "you can query.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _state_dir(ctx: typer.Context) -> Path:
    from cronpy.runtime.statedir import resolve_state_dir

    option: Path | None = ctx.find_root().params.get("state_dir")
    return resolve_state_dir(None if option is None else str(option))


def _open(ctx: typer.Context, *, write: bool = False) -> tuple[Path, Store]:
    from cronpy.cli.commands.common import open_state

    state_dir = _state_dir(ctx)
    return state_dir, open_state(state_dir, write=write)


def _render(result: Any, as_json: bool = False) -> None:
    from cronpy.cli.render import render

    render(result, as_json=as_json)


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


# -- the runner ------------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The TOML job file.")],
    daemon: Annotated[
        bool, typer.Option("--daemon", help="Detach; write a pid file and log to a file.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store URL instead of the state directory's SQLite file."),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Event log format on stderr: text or json.")
    ] = "text",
    pid_file: Annotated[
        Path | None,
        typer.Option(
            "--pid-file",
            help="Write the runner's pid here (default with --daemon: STATE/runner.pid).",
        ),
    ] = None,
    allow_duplicate: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate",
            help="Start even if another runner on this machine runs the same job file.",
        ),
    ] = False,
) -> int:
    """Run the jobs of FILE on schedule, in the foreground (or detached with --daemon)."""
    from cronpy.errors import UsageError
    from cronpy.runtime.loop import run_runner

    if log_format not in ("text", "json"):
        raise UsageError(f"invalid --log-format {log_format!r}: expected text or json")
    return run_runner(
        file,
        state_dir=_state_dir(ctx),
        store_url=store,
        daemon=daemon,
        log_format=log_format,
        pid_file=pid_file,
        allow_duplicate=allow_duplicate,
    )


# -- reading the state -----------------------------------------------------------------------


@app.command()
def status(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="Only this job.")] = None,
    as_json: JsonOption = False,
) -> int:
    """Show jobs with schedule, next run, last result, running runs and pauses; and the runner."""
    from cronpy.cli.commands.status import status as build
    from cronpy.runtime.statedir import runner_alive

    state_dir, store = _open(ctx)
    with _closing(store):
        result = build(
            store, state_dir=state_dir, runner=runner_alive(state_dir), job=job, now=_now()
        )
    _render(result, as_json)
    return 0


@app.command()
def history(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="Only this job's runs.")] = None,
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
    now = _now()
    start = None if since is None else parse_since(since, now=now, tz=local_zone())
    state_dir, store = _open(ctx)
    with _closing(store):
        result = build(store, state_dir=state_dir, job=job, limit=limit, status=wanted, since=start)
    _render(result, as_json)
    return 0


@app.command()
def logs(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.")],
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

    state_dir, store = _open(ctx)
    with _closing(store):
        run = pick_run(store, state_dir=state_dir, job=job, run_id=run_id)
        chunks = follow_log(store, run, sleep=time.sleep) if follow else read_log(run)
        _write_bytes(chunks)
    return 0


def _write_bytes(chunks: Any) -> None:
    out = sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
        out.flush()  # a follower wants each piece as it comes


# -- changing the state ----------------------------------------------------------------------


@app.command()
def pause(
    ctx: typer.Context,
    jobs: Annotated[list[str] | None, typer.Argument(help="Jobs to pause.")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Pause every job.")] = False,
    for_: Annotated[
        str | None, typer.Option("--for", help='Pause for this long, like "2h"; then resume.')
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Pause until this ISO 8601 time; then resume.")
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Pause jobs: their occurrences are recorded skipped (paused) until resumed or it ends."""
    from datetime import timedelta

    from cronpy.cli.commands.common import local_zone, parse_instant
    from cronpy.cli.commands.pause import set_paused
    from cronpy.errors import UsageError
    from cronpy.model.durations import parse_duration

    if for_ is not None and until is not None:
        raise UsageError("give --for or --until, not both")
    now = _now()
    end = None
    if for_ is not None:
        end = now + timedelta(seconds=parse_duration(for_))
    elif until is not None:
        end = parse_instant(until, tz=local_zone(), option="--until")
    state_dir, store = _open(ctx, write=True)
    with _closing(store):
        result = set_paused(
            store,
            state_dir=state_dir,
            names=jobs or [],
            all_jobs=all_jobs,
            paused=True,
            until=end,
            now=now,
        )
    _render(result, as_json)
    return 0


@app.command()
def resume(
    ctx: typer.Context,
    jobs: Annotated[list[str] | None, typer.Argument(help="Jobs to resume.")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Resume every job.")] = False,
    as_json: JsonOption = False,
) -> int:
    """Resume paused jobs."""
    from cronpy.cli.commands.pause import set_paused

    state_dir, store = _open(ctx, write=True)
    with _closing(store):
        result = set_paused(
            store,
            state_dir=state_dir,
            names=jobs or [],
            all_jobs=all_jobs,
            paused=False,
            until=None,
            now=_now(),
        )
    _render(result, as_json)
    return 0


# -- asking the runner -----------------------------------------------------------------------


@app.command()
def trigger(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job to run now.")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Stream its output; exit 0 if it succeeds, else 1.")
    ] = False,
) -> int:
    """Run a job now, through the runner (its overlap policy applies)."""
    import time

    from cronpy.cli.commands.control import started_run, wait_taken
    from cronpy.cli.commands.control import trigger as request
    from cronpy.cli.commands.logs import follow as follow_log
    from cronpy.model import Status

    state_dir, store = _open(ctx, write=True)
    with _closing(store):
        result = request(store, state_dir=state_dir, job=job, now=_now())
        if not wait:
            _render(result)
            return 0
        _note(result.message)
        run = started_run(store, wait_taken(store, result.control_ids[0], sleep=time.sleep))
        _note(f"run {run.id} started")
        _write_bytes(follow_log(store, run, sleep=time.sleep))
        ended = store.get_run(run.id) or run
    from cronpy.cli.render import outcome

    _note(f"run {ended.id} {outcome(ended)}")
    return 0 if ended.status is Status.SUCCEEDED else 1


def _note(text: str) -> None:
    """Progress for a person, kept off stdout so the job's own output stays clean."""
    sys.stderr.write(f"cronpy: {text}\n")
    sys.stderr.flush()


@app.command()
def cancel(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="JOB|RUN", help="A job name or a run id.")],
) -> int:
    """Stop a running run, or every running run of a job."""
    from cronpy.cli.commands.control import cancel as request

    state_dir, store = _open(ctx, write=True)
    with _closing(store):
        result = request(store, state_dir=state_dir, target=target, now=_now())
    _render(result)
    return 0


@app.command()
def reload(ctx: typer.Context) -> int:
    """Ask the runner to reread its job file (if invalid, the old jobs keep running)."""
    from cronpy.cli.commands.control import reload as request

    state_dir, store = _open(ctx, write=True)
    with _closing(store):
        result = request(store, state_dir=state_dir, now=_now())
    _render(result)
    return 0


# -- schedules and files -----------------------------------------------------------------------


@app.command("next")
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

    result = next_fire_times(schedule, tz=tz, after=after, count=count, job=job, now=_now())
    _render(result, as_json)
    return 0


@app.command()
def why(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.")],
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

    state_dir, store = _open(ctx)
    with _closing(store):
        result = explain(store, state_dir=state_dir, job=job, at=at, job_file=file, now=_now())
    _render(result, as_json)
    return 0


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The TOML job file.")],
    as_json: JsonOption = False,
) -> int:
    """Check a job file: exit 0, or 2 listing every problem (file:line:col: job, key: message)."""
    from cronpy.cli.commands.validate import validate as check

    _render(check(file), as_json)
    return 0


@app.command("systemd-unit")
def systemd_unit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The TOML job file.")],
) -> int:
    """Print a systemd service unit that runs FILE (Type=notify, reload on SIGHUP)."""
    from cronpy.cli.commands.systemd import systemd_unit as build

    chosen = ctx.find_root().params.get("state_dir")
    _render(build(file, state_dir=chosen))
    return 0


class _closing:
    """Close the store however the command ends (Store has close(), not a context manager)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


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
