"""``cronpy trigger``, ``cancel`` and ``reload``: requests to the runner, through the store.

A request is a persisted control plus a nudge on the runner's wake-up socket; the runner
completes the control with what it did, which ``trigger --wait`` reads back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronpy.cli.commands.common import check_jobs, check_run_id, require_runner, runner_up
from cronpy.errors import CronpyError, FailedError, NoRunnerError, UsageError
from cronpy.model import Control, ControlKind, Run, Status
from cronpy.model.run import RELOAD_REJECTED

if TYPE_CHECKING:
    from cronpy.interfaces import Store

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Requested:
    """What a control command asked for; printed as one line, or JSON."""

    kind: ControlKind
    message: str
    control_ids: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "request": str(self.kind),
            "controls": list(self.control_ids),
            "message": self.message,
        }


def trigger(store: Store, *, state_dir: Path, job: str, now: datetime) -> Requested:
    """Queue a manual run. With no runner up it stays queued (and the caller exits 3)."""
    from cronpy.runtime.statedir import send_wake

    states = store.job_states()
    check_jobs([job], states, state_dir)
    if not states[job].present:
        raise UsageError(f"job {job!r} is no longer in the runner's job file; it cannot run")
    control = store.push_control(ControlKind.TRIGGER, now, job=job)
    if not runner_up(store, state_dir):
        raise NoRunnerError(
            f"no runner is running on {state_dir}; the trigger of {job!r} is queued"
            " and runs when one starts"
        )
    send_wake(state_dir)
    return Requested(ControlKind.TRIGGER, f"triggered {job!r} (request {control})", (control,))


def cancel(
    store: Store, *, state_dir: Path, target: str | None, now: datetime, run_id: int | None = None
) -> Requested:
    """Stop every running run of a job (``target`` names it), or one run: ``--run ID``, or a
    ``target`` of digits that no job is named (a job called ``7`` is always the job)."""
    from cronpy.runtime.statedir import send_wake

    states = store.job_states()
    if run_id is None and target is not None and target not in states and target.isdigit():
        run_id = int(target)
        target = None
    if run_id is not None:
        check_run_id(run_id, "--run")
        run = store.get_run(run_id)
        if run is None:
            raise UsageError(f"there is no run {run_id}")
        if target is not None and run.job != target:
            check_jobs([target], states, state_dir)
            raise UsageError(f"run {run_id} is a run of {run.job!r}, not of {target!r}")
        require_runner(state_dir, f"run {run.id} cannot be cancelled", store)
        if run.status is not Status.RUNNING:
            raise FailedError(f"run {run.id} of {run.job!r} is not running: it {_ended(run)}")
        runs = [run]
    else:
        if target is None:
            raise UsageError("name the job to cancel, or the run with --run ID")
        check_jobs([target], states, state_dir)
        require_runner(state_dir, f"nothing of {target!r} can be cancelled", store)
        runs = [r for r in store.running_runs() if r.job == target]
        if not runs:
            raise FailedError(f"job {target!r} has no running run to cancel")
    ids = tuple(store.push_control(ControlKind.CANCEL, now, job=r.job, run_id=r.id) for r in runs)
    send_wake(state_dir)
    listed = ", ".join(str(r.id) for r in runs)
    noun = "run" if len(runs) == 1 else "runs"
    return Requested(ControlKind.CANCEL, f"cancelling {noun} {listed} of {runs[0].job!r}", ids)


def _ended(run: Run) -> str:
    return "was skipped" if run.status is Status.SKIPPED else f"ended {run.status}"


RELOAD_WAIT = 10.0  # seconds: a reload rereads one file; a runner this slow to answer is stuck


class ReloadRefused(CronpyError):
    """The runner refused the job file (it keeps the jobs it had): exit 2, like ``validate``."""

    exit_code = 2


def reload(
    store: Store,
    *,
    state_dir: Path,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wait: float | None = None,
) -> Requested:
    """Ask the runner to reread its file and wait for its answer: a refused file (or no answer)
    must fail the command, or ``systemctl reload`` reports success on a typo."""
    from cronpy.runtime.statedir import send_wake

    require_runner(state_dir, "there is nothing to reload", store)
    control = store.push_control(ControlKind.RELOAD, now)
    send_wake(state_dir)
    wait = RELOAD_WAIT if wait is None else wait
    deadline = clock() + wait
    while (taken := store.get_control(control)) is None or taken.taken_at is None:
        if clock() >= deadline:
            raise NoRunnerError(
                f"the runner on {state_dir} has not answered reload request {control} within"
                f" {wait:g}s (see `cronpy status`); the request stays queued"
            )
        sleep(POLL_SECONDS / 4)
    answer = taken.result or "no answer"
    if answer.startswith(RELOAD_REJECTED):
        raise ReloadRefused(
            f"the runner refused the reload: {answer.removeprefix(RELOAD_REJECTED)}"
        )
    return Requested(ControlKind.RELOAD, f"the runner {answer} (request {control})", (control,))


def wait_taken(
    store: Store,
    control_id: int,
    *,
    sleep: Callable[[float], None],
    poll: float = POLL_SECONDS,
    alive: Callable[[], bool] | None = None,
) -> Control:
    """Poll until the runner has taken the control; NoRunnerError (exit 3) when ``alive``
    (asked about once a second) says the runner is gone: it would wait forever."""
    polls = 0
    while True:
        control = store.get_control(control_id)
        if control is None:
            raise FailedError(f"request {control_id} disappeared from the state")
        if control.taken_at is not None:
            return control
        sleep(poll)
        polls += 1
        if alive is not None and polls % max(1, round(1.0 / poll)) == 0 and not alive():
            raise NoRunnerError(
                f"the runner is gone (killed?) before it took request {control_id}; it stays"
                " queued and runs when a runner starts"
            )


def started_run(store: Store, control: Control) -> Run:
    """The run a taken trigger started, or FailedError saying why it did not start one."""
    if control.run_id is None:
        raise FailedError(
            f"the runner did not start {control.job!r}: {control.result or 'no reason given'}"
        )
    run = store.get_run(control.run_id)
    if run is None:
        raise FailedError(f"run {control.run_id} of {control.job!r} is gone from the history")
    return run
