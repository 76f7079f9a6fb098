"""``cronpy logs``: a run's output, and following it while the run goes on.

Following polls the log file and the run's status every ``poll`` seconds. A client may poll;
only the runner must not (DESIGN §7), and a person watching a log does not need a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronpy.cli.commands.common import check_jobs, check_run_id
from cronpy.errors import FailedError, NoRunnerError, StateError, UsageError
from cronpy.model import Run, Status

if TYPE_CHECKING:
    from cronpy.interfaces import Store

POLL_SECONDS = 0.2
ALIVE_SECONDS = 1.0  # how often a follower checks that the runner is still up
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class LogResult:
    """``logs --json``: the run's record and its output as text."""

    run: Run
    output: str

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run.to_json(), "output": self.output}


def pick_run(store: Store, *, state_dir: Path, target: str, run_id: int | None) -> Run:
    """The run named by ``target`` and ``--run``: ``target`` is a job's name (then its run
    ``run_id``, by default its latest run that has a log), or a run id where no job has that
    name, so a job called ``7`` is always the job."""
    if run_id is not None:
        check_run_id(run_id, "--run")
    if store.job_state(target) is None and target.isdigit() and run_id is None:
        run = store.get_run(check_run_id(int(target)))
        if run is None:
            raise UsageError(f"there is no job and no run named {target}")
        return run
    job = target
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
    alive: Callable[[], bool] | None = None,
    check_every: float = ALIVE_SECONDS,
) -> Iterator[bytes]:
    """The run's output as it grows, until the run is no longer ``running``; then the rest.
    Callers read the ended run's record from the store afterwards.

    ``alive`` (the runner lock's holder check) is asked about every ``check_every`` seconds:
    a runner killed with SIGKILL never records the end of its runs, so without it a follower
    would wait forever. Then RunnerGone (exit 3) after the output written so far."""
    position = 0
    current = run
    polls_per_check = max(1, round(check_every / poll))
    polls = 0
    while True:
        # Read the status before the file: output written before the run ended is then
        # always read by the pass that sees it ended.
        finished = current.status is not Status.RUNNING
        if current.log_path is not None:
            position = yield from _read_from(current.log_path, position)
        if finished:
            return
        sleep(poll)
        polls += 1
        gone = alive is not None and polls % polls_per_check == 0 and not alive()
        latest = store.get_run(current.id)
        if latest is None:  # pruned under our feet; nothing more will come
            return
        if gone and latest.status is Status.RUNNING:
            if latest.log_path is not None:
                yield from _read_from(latest.log_path, position)
            raise RunnerGone(
                f"the runner is gone (killed?) while run {latest.id} of {latest.job!r} was"
                " running: the run is left `running`, and the next runner to start marks it"
                " lost"
            )
        current = latest


class RunnerGone(NoRunnerError):
    """The runner died (SIGKILL, OOM) while a command waited on one of its runs."""


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
