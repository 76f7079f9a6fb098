"""Commands that change something: ``run`` (the runner itself), ``pause`` and ``resume`` (the
state), ``trigger``, ``cancel`` and ``reload`` (requests the runner carries out), and ``stop``."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from cronpy.cli.wiring import (
    JsonOption,
    UtcOption,
    complete_job,
    note,
    now,
    open_state,
    render,
    state_dir,
    state_option,
    write_bytes,
)


def run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The TOML job file.")],
    daemon: Annotated[
        bool, typer.Option("--daemon", help="Detach; write a pid file and log to a file.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", metavar="URL", help="Store URL instead of the state directory's SQLite file."
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", metavar="FORMAT", help="Event log format on stderr: text or json."
        ),
    ] = "text",
    pid_file: Annotated[
        Path | None,
        typer.Option(
            "--pid-file",
            metavar="FILE",
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
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="[HOST:]PORT",
            help="Serve Prometheus metrics there (a port alone: on 127.0.0.1).",
        ),
    ] = None,
) -> int:
    """Run the jobs of FILE on schedule (the runner).

    In the foreground, or detached with --daemon. SIGTERM (or `cronpy stop`) stops it; SIGHUP
    (or `cronpy reload`) rereads FILE."""
    from cronpy.cli.fast import start_runner  # the body `cronpy run` takes without typer too

    return start_runner(
        state_option=state_option(ctx),
        file=file,
        daemon=daemon,
        store=store,
        log_format=log_format,
        pid_file=pid_file,
        allow_duplicate=allow_duplicate,
        metrics=metrics,
    )


def pause(
    ctx: typer.Context,
    jobs: Annotated[
        list[str] | None,
        typer.Argument(metavar="[JOB]...", help="Jobs to pause.", autocompletion=complete_job),
    ] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Pause every job.")] = False,
    for_: Annotated[
        str | None,
        typer.Option(
            "--for", metavar="DURATION", help='Pause for this long, like "2h"; then resume.'
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="Pause until this ISO 8601 time; then resume."
        ),
    ] = None,
    utc: UtcOption = False,
    as_json: JsonOption = False,
) -> int:
    """Pause jobs until resumed, or for a while.

    A paused job's occurrences are recorded skipped (paused). A TIME without a zone is local
    (UTC with --utc)."""
    from cronpy.cli.commands.common import parse_instant, parse_span, shown_zone
    from cronpy.cli.commands.pause import set_paused
    from cronpy.errors import UsageError

    if for_ is not None and until is not None:
        raise UsageError("give --for or --until, not both")
    zone = shown_zone(utc)
    started = now()
    end = None
    if for_ is not None:
        end = started + parse_span(for_, option="--for")
    elif until is not None:
        end = parse_instant(until, tz=zone, option="--until")
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
            zone=zone,
        )
    render(result, as_json)
    return 0


def resume(
    ctx: typer.Context,
    jobs: Annotated[
        list[str] | None,
        typer.Argument(metavar="[JOB]...", help="Jobs to resume.", autocompletion=complete_job),
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
    job: Annotated[
        str,
        typer.Argument(metavar="JOB", help="The job to run now.", autocompletion=complete_job),
    ],
    wait: Annotated[
        bool, typer.Option("--wait", help="Stream its output; exit 0 if it succeeds, else 1.")
    ] = False,
) -> int:
    """Run a job now, through the runner.

    Its overlap policy applies. With --wait, Ctrl-C stops waiting, not the run."""
    import time

    from cronpy.cli.commands.control import started_run, wait_taken
    from cronpy.cli.commands.control import trigger as request
    from cronpy.cli.render.words import end_marker
    from cronpy.cli.wiring import follower
    from cronpy.model import Status
    from cronpy.runtime.statedir import runner_alive

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = request(store, state_dir=chosen, job=job, now=now())
        if not wait:
            render(result)
            return 0
        note(result.message)
        request_id = result.control_ids[0]
        run_id: int | None = None
        try:
            taken = wait_taken(
                store,
                request_id,
                sleep=time.sleep,
                alive=lambda: runner_alive(chosen) is not None,
            )
            run = started_run(store, taken)
            run_id = run.id
            note(f"run {run.id} started")
            write_bytes(follower(store, chosen, run))
        except KeyboardInterrupt:
            # The run belongs to the runner: leaving must not look like stopping it.
            if run_id is None:
                note(f"stopped waiting; request {request_id} stays queued and the runner starts it")
            else:
                note(
                    f"stopped waiting; run {run_id} of {job!r} goes on in the runner."
                    f" Stop it with: cronpy cancel {job} --run {run_id}"
                )
            return 130
        ended = store.get_run(run.id) or run
    note(end_marker(ended), prefix=False)
    return 0 if ended.status is Status.SUCCEEDED else 1


def cancel(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[JOB]",
            help="The job (or a run id, where no job has that name).",
            autocompletion=complete_job,
        ),
    ] = None,
    run_id: Annotated[
        int | None,
        typer.Option("--run", metavar="ID", help="Only this run (of JOB, when given)."),
    ] = None,
) -> int:
    """Stop a job's running runs, or one run (--run ID)."""
    from cronpy.cli.commands.control import cancel as request

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = request(store, state_dir=chosen, target=target, now=now(), run_id=run_id)
    render(result)
    return 0


def reload(ctx: typer.Context) -> int:
    """Ask the runner to reread its job file.

    If the file is invalid, the old jobs keep running."""
    from cronpy.cli.commands.control import reload as request

    chosen, store = open_state(ctx, write=True)
    with closing(store):
        result = request(store, state_dir=chosen, now=now())
    render(result)
    return 0


def stop(
    ctx: typer.Context,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Give up (exit 1) if it is still up after this long.",
        ),
    ] = 60.0,
    as_json: JsonOption = False,
) -> int:
    """Stop the runner of this state directory.

    Sends it SIGTERM and waits until it has exited (it waits up to shutdown_grace for
    running jobs). Exit 3 when no runner is up."""
    import math
    import time

    from cronpy.cli.commands.stop import stop as request
    from cronpy.errors import UsageError

    if not (math.isfinite(timeout) and 0 <= timeout <= 86_400):
        raise UsageError(f"invalid --timeout {timeout:g}: expected seconds from 0 to 86400")
    result = request(state_dir(ctx), timeout=timeout, sleep=time.sleep, monotonic=time.monotonic)
    render(result, as_json)
    return 0
