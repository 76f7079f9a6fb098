"""``cronpy logs``: a run's output, and following it while the run goes on.

Following polls the log file and the run's status every ``poll`` seconds. A client may poll;
only the runner must not (DESIGN §7), and a person watching a log does not need a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy.cli.commands.common import check_jobs
from cronpy.errors import FailedError, StateError, UsageError
from cronpy.model import Run, Status

if TYPE_CHECKING:
    from cronpy.interfaces import Store

POLL_SECONDS = 0.2
_CHUNK = 64 * 1024


def pick_run(store: Store, *, state_dir: Path, job: str, run_id: int | None) -> Run:
    """Run ``run_id`` of ``job``, or by default the job's latest run that has a log."""
    if store.job_state(job) is None:
        check_jobs([job], store.job_states(), state_dir)
    if run_id is not None:
        run = store.get_run(run_id)
        if run is None or run.job != job:
            owner = "" if run is None else f" (it is a run of {run.job!r})"
            raise UsageError(f"job {job!r} has no run {run_id}{owner}")
        return run
    # Newest first; skipped and missed records have no log, so look past them.
    for run in store.runs(job, limit=200):
        if run.log_path is not None or run.status is Status.RUNNING:
            return run
    raise FailedError(f"job {job!r} has no run with output yet")


def read_log(run: Run) -> Iterator[bytes]:
    """The whole log of a run that has one, in chunks."""
    if run.log_path is None:
        why = f": {run.reason}" if run.reason else ""
        raise FailedError(f"run {run.id} of {run.job!r} has no output (it is {run.status}{why})")
    try:
        with open(run.log_path, "rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk
    except FileNotFoundError:
        raise FailedError(
            f"the log of run {run.id} ({run.log_path}) is gone: history retention removed it"
        ) from None
    except OSError as exc:
        raise StateError(f"cannot read the log of run {run.id} ({run.log_path}): {exc}") from exc


def follow(
    store: Store,
    run: Run,
    *,
    sleep: Callable[[float], None],
    poll: float = POLL_SECONDS,
) -> Iterator[bytes]:
    """The run's output as it grows, until the run is no longer ``running``; then the rest.
    Callers read the ended run's record from the store afterwards."""
    position = 0
    current = run
    while True:
        # Read the status before the file: output written before the run ended is then
        # always read by the pass that sees it ended.
        finished = current.status is not Status.RUNNING
        if current.log_path is not None:
            position = yield from _read_from(current.log_path, position)
        if finished:
            return
        sleep(poll)
        latest = store.get_run(current.id)
        if latest is None:  # pruned under our feet; nothing more will come
            return
        current = latest


def _read_from(path: str, position: int) -> Generator[bytes, None, int]:
    """Yield what ``path`` holds past ``position``; return the new position."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < position:
                # Cut down under us (the output cap keeps head and tail): go on from its end.
                return size
            f.seek(position)
            while chunk := f.read(_CHUNK):
                position += len(chunk)
                yield chunk
    except FileNotFoundError:
        pass  # not created yet (the run was just claimed) or already pruned
    return position
