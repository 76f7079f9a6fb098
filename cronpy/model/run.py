"""What happens to jobs: runs, the state kept per job, runners, controls, and the records that
travel between the engine and the store (``cronpy.model.launch`` has the launcher's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cronpy.model.enums import Status, Trigger


def iso(when: datetime | None) -> str | None:
    """A timestamp as JSON carries it: ISO 8601 with its UTC offset (DESIGN §8)."""
    return None if when is None else when.isoformat()


@dataclass(frozen=True)
class Run:
    """One record of history: a start of a command, or the reason an occurrence did not start."""

    id: int
    job: str
    status: Status
    trigger: Trigger
    scheduled_at: datetime | None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    attempt: int = 1
    host: str = ""
    pid: int | None = None
    reason: str | None = None  # why skipped/missed/spawn_error/lost, in words or a SkipReason
    missed_count: int | None = None  # for a ``missed`` record: how many occurrences it stands for
    output_tail: str = ""
    log_path: str | None = None
    cpu_seconds: float | None = None  # user + system CPU of its reaped process tree
    max_rss_kib: int | None = None  # the largest peak resident set of one of its processes
    runner_id: int | None = None  # the runner that claimed (and supervises) it

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def lateness(self) -> float | None:
        if self.started_at is None or self.scheduled_at is None:
            return None
        return (self.started_at - self.scheduled_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "scheduled_at": iso(self.scheduled_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration": self.duration,
            "status": str(self.status),
            "exit_code": self.exit_code,
            "signal": self.signal,
            "attempt": self.attempt,
            "trigger": str(self.trigger),
            "host": self.host,
            "pid": self.pid,
            "lateness": self.lateness,
            "reason": self.reason,
            "missed_count": self.missed_count,
            "output": self.output_tail,
            "runner_id": self.runner_id,
            "cpu_seconds": self.cpu_seconds,
            "max_rss_kib": self.max_rss_kib,
        }


@dataclass(frozen=True)
class RetryDue:
    """A retry planned for a failed occurrence; kept in the job's state until it is claimed,
    so it survives a restart."""

    scheduled_at: datetime  # the occurrence being retried
    attempt: int  # the attempt this retry starts (2 = the first retry)
    due_at: datetime


@dataclass(frozen=True, slots=True)  # no __dict__: one per job, 100,000 jobs
class JobState:
    """What the store remembers of a job, by name, across restarts and reloads."""

    name: str
    first_seen: datetime  # anchor of ``every`` schedules: the cadence survives restarts
    cursor: datetime | None = None  # the latest occurrence already handled (run, skipped or missed)
    next_run_at: datetime | None = None  # as last planned by a runner, for ``status``
    run_count: int = 0  # starts counted against ``max_runs``
    paused: bool = False
    paused_until: datetime | None = None  # None with paused=True: until resumed
    last_run_id: int | None = None
    boot_id: str | None = None  # the boot on which ``@reboot`` last ran
    retries: tuple[RetryDue, ...] = ()  # pending retries, one per failed occurrence
    late: str | None = None  # why the job is late (late_after, max_duration), until it succeeds
    schedule: str = ""  # as written, for ``status``
    timezone: str = ""
    command: str = ""
    present: bool = True  # still in the runner's job file
    enabled: bool = True  # the job file's ``enabled``, for ``status``

    def is_paused(self, now: datetime) -> bool:
        """Paused at ``now``: a pause with an ``until`` in the past has expired."""
        return self.paused and (self.paused_until is None or self.paused_until > now)


@dataclass(frozen=True)
class RunnerInfo:
    id: int
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None
    note: str | None = None  # e.g. "degraded: disk full, 3 writes pending"
    file_hash: str | None = None  # of the job file it runs: runners sharing a store compare it
    version: str | None = None  # cronpy's version


class ControlKind(StrEnum):
    TRIGGER = "trigger"
    CANCEL = "cancel"
    RELOAD = "reload"
    WAKE = "wake"  # pause/resume changed: replan


# How a runner's answer to a RELOAD control starts when it refused the file (the old jobs keep
# running); ``cronpy reload`` exits 2 on it.
RELOAD_REJECTED = "rejected: "
# why an occurrence was skipped when another runner sharing the store runs the job (forbid)
OVERLAP_ELSEWHERE = "overlap: the job is running on another runner"


@dataclass(frozen=True)
class Control:
    """A request from a command to the runner, persisted so it survives a runner that is down."""

    id: int
    kind: ControlKind
    requested_at: datetime
    job: str | None = None
    run_id: int | None = None  # cancel: the run to stop; trigger: the run it started, once taken
    taken_at: datetime | None = None
    result: str | None = None  # what the runner did, in words (e.g. "unknown job", "not running")


@dataclass(frozen=True)
class Claim:
    """The arguments of one ``claim_run``, for ``claim_runs``."""

    job: str
    scheduled_at: datetime | None
    trigger: Trigger
    attempt: int
    started_at: datetime
    host: str
    runner_id: int
    cursor: datetime | None = None
    lease_until: datetime | None = None  # see Store.renew_leases; None: the run holds no lease
    # the job's max_runs: the claim is refused once the job has started that many runs, so
    # runners sharing a store stop together
    max_runs: int | None = None
    # overlap = "forbid" across runners: while another runner runs the job, the occurrence is
    # recorded skipped (overlap) instead of claimed
    exclusive: bool = False


@dataclass(frozen=True)
class Spawned:
    """A claimed run's process, for ``set_pids``."""

    run_id: int
    pid: int
    log_path: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class Finish:
    """How a started run ended."""

    status: Status
    ended_at: datetime
    exit_code: int | None = None
    signal: int | None = None
    output_tail: str = ""
    reason: str | None = None
    cpu_seconds: float | None = None
    max_rss_kib: int | None = None
