"""Commands that change something: ``run`` (the runner itself), ``pause`` and ``resume`` (the
state), and ``trigger``, ``cancel`` and ``reload`` (requests the runner carries out)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from cronpy.cli.wiring import (
    JsonOption,
    complete_job,
    note,
    now,
    open_state,
    render,
    state_dir,
    write_bytes,
)


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
        typer.Option("--pid-file", help="With --daemon: where to write the pid."),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="[HOST:]PORT",
            help="Serve Prometheus metrics there (a port alone: on 127.0.0.1).",
        ),
    ] = None,
) -> int:
    """Run the jobs of FILE on schedule, in the foreground (or detached with --daemon)."""
    from cronpy.errors import UsageError
    from cronpy.runtime.loop import run_runner

    if log_format not in ("text", "json"):
        raise UsageError(f"invalid --log-format {log_format!r}: expected text or json")
    if metrics is not None:
        from cronpy.runtime.metrics import parse_address

        parse_address(metrics)  # a bad address is an input error before anything starts
    return run_runner(
        file,
        state_dir=state_dir(ctx),
        store_url=store,
        daemon=daemon,
        log_format=log_format,
        pid_file=pid_file,
        metrics=metrics,
    )


def pause(
    ctx: typer.Context,
    jobs: Annotated[
        list[str] | None, typer.Argument(help="Jobs to pause.", autocompletion=complete_job)
    ] = None,
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
    started = now()
    end = None
    if for_ is not None:
        end = started + timedelta(seconds=parse_duration(for_))
    elif until is not None:
        end = parse_instant(until, tz=local_zone(), option="--until")
    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = set_paused(
            store,
            state_dir=chosen,
            names=jobs or [],
            all_jobs=all_jobs,
            paused=True,
            until=end,
            now=started,
        )
    render(result, as_json)
    return 0


def resume(
    ctx: typer.Context,
    jobs: Annotated[
        list[str] | None, typer.Argument(help="Jobs to resume.", autocompletion=complete_job)
    ] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Resume every job.")] = False,
    as_json: JsonOption = False,
) -> int:
    """Resume paused jobs."""
    from cronpy.cli.commands.pause import set_paused

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = set_paused(
            store,
            state_dir=chosen,
            names=jobs or [],
            all_jobs=all_jobs,
            paused=False,
            until=None,
            now=now(),
        )
    render(result, as_json)
    return 0


def trigger(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job to run now.", autocompletion=complete_job)],
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

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = request(store, state_dir=chosen, job=job, now=now())
        if not wait:
            render(result)
            return 0
        note(result.message)
        run = started_run(store, wait_taken(store, result.control_ids[0], sleep=time.sleep))
        note(f"run {run.id} started")
        write_bytes(follow_log(store, run, sleep=time.sleep))
        ended = store.get_run(run.id) or run
    from cronpy.cli.render.words import outcome

    note(f"run {ended.id} {outcome(ended)}")
    return 0 if ended.status is Status.SUCCEEDED else 1


def cancel(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="JOB|RUN", help="A job name or a run id.", autocompletion=complete_job
        ),
    ],
) -> int:
    """Stop a running run, or every running run of a job."""
    from cronpy.cli.commands.control import cancel as request

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = request(store, state_dir=chosen, target=target, now=now())
    render(result)
    return 0


def reload(ctx: typer.Context) -> int:
    """Ask the runner to reread its job file (if invalid, the old jobs keep running)."""
    from cronpy.cli.commands.control import reload as request

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = request(store, state_dir=chosen, now=now())
    render(result)
    return 0
