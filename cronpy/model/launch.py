"""What the runner and the launcher hand each other: a start, a hook, and how each ended.

Apart from ``cronpy.model.run`` so that the read commands, which handle runs and job states
only, do not build these classes at every start (``cronpy.model`` loads them when asked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy.model.enums import Status

if TYPE_CHECKING:
    from cronpy.model.job import Job


@dataclass(frozen=True)
class LaunchRequest:
    run_id: int
    job: Job
    scheduled_at: datetime | None  # UTC
    attempt: int
    log_path: Path  # created by the launcher, mode 0600; its directory exists
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ArmRequest:
    """An occurrence expected soon: start its process now, held before the command until
    ``release`` hands it the run id its claim got (``cronpy.launch.prearm``)."""

    job: Job
    scheduled_at: datetime  # UTC
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, datetime]:
        return self.job.name, self.scheduled_at


@dataclass(frozen=True)
class Outcome:
    run_id: int
    status: Status
    exit_code: int | None
    signal: int | None  # the signal that ended the main process, if any
    output_tail: str  # the last lines of output
    reason: str | None  # why it could not start, or why it was stopped
    pid: int | None
    ended_monotonic: float
    # From wait4 of the main process (its waited-for descendants included) and of the
    # orphans of its group reaped at its end; None when it never started.
    cpu_seconds: float | None = None
    max_rss_kib: int | None = None


@dataclass(frozen=True)
class HookRequest:
    """An ``on_*`` command of a job to start beside the schedule, bounded by a timeout."""

    job: str
    event: str  # on_success, on_failure, on_dead, on_recovery
    argv: tuple[str, ...]
    env: Mapping[str, str]  # the whole environment, as the hook receives it
    timeout: float  # seconds before its group gets SIGTERM (Job.hook_timeout)
    kill_grace: float  # seconds after SIGTERM before SIGKILL


@dataclass(frozen=True)
class HookOutcome:
    """How a hook ended, for the runner's event log (hooks have no history record)."""

    job: str
    event: str
    pid: int | None  # None when it could not start
    status: Status  # succeeded, failed, timed_out, killed or spawn_error
    exit_code: int | None
    signal: int | None  # the signal that ended the main process, if any
    output_tail: str  # the last lines of stdout and stderr
    reason: str | None  # why it could not start, or why it was stopped
    duration: float  # seconds from start to exit
