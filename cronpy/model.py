"""The records the rest of cronpy passes around: policies as enums, jobs and runs as frozen classes.

Nothing here reads a clock, a file or a database. Times are aware datetimes in UTC;
durations are float seconds; sizes are int bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # keeps croniter out of read commands that only touch runs
    import random

    from .schedule import Schedule


class Missed(StrEnum):
    SKIP = "skip"
    CATCH_UP_ONCE = "catch-up-once"
    REPLAY_ALL = "replay-all"


class Overlap(StrEnum):
    FORBID = "forbid"
    QUEUE = "queue"
    ALLOW = "allow"
    REPLACE = "replace"


class Backoff(StrEnum):
    CONSTANT = "constant"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


class Status(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    KILLED = "killed"
    SPAWN_ERROR = "spawn_error"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES

    @property
    def retryable(self) -> bool:
        return self in _RETRYABLE


_FAILURES = frozenset(
    {Status.FAILED, Status.TIMED_OUT, Status.KILLED, Status.SPAWN_ERROR, Status.LOST}
)
_RETRYABLE = _FAILURES  # every failure is worth another attempt; cancelled runs are not


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    CATCH_UP = "catch-up"
    RETRY = "retry"
    MANUAL = "manual"
    AFTER = "after"
    REBOOT = "reboot"


class SkipReason(StrEnum):
    OVERLAP = "overlap"
    PAUSED = "paused"
    WINDOW = "window"


@dataclass(frozen=True)
class Retry:
    attempts: int = 1  # total attempts, first included
    backoff: Backoff = Backoff.EXPONENTIAL
    delay: float = 30.0
    max_delay: float = 600.0
    jitter: bool = False

    def delay_before(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before ``attempt`` (2 = the first retry)."""
        n = max(attempt - 1, 1)
        if self.backoff is Backoff.CONSTANT:
            base = self.delay
        elif self.backoff is Backoff.LINEAR:
            base = self.delay * n
        else:
            base = self.delay * (2 ** (n - 1))
        base = min(base, self.max_delay)
        if self.jitter:
            import random

            base = (rng or random.Random()).uniform(0, base)
        return base


@dataclass(frozen=True)
class Keep:
    runs: int | None = 500
    age: float | None = None  # seconds
    output: int = 1024 * 1024  # bytes of log kept per run (head and tail)


@dataclass(frozen=True)
class Window:
    """Days (0 = Monday) and local time ranges [start, end) in which the job may start."""

    days: frozenset[int] = frozenset(range(7))
    hours: tuple[tuple[time, time], ...] = ()

    def allows(self, local: datetime) -> bool:
        if local.weekday() not in self.days:
            return False
        if not self.hours:
            return True
        t = local.time().replace(tzinfo=None)
        return any(start <= t < end for start, end in self.hours)


@dataclass(frozen=True)
class Notify:
    webhook: str | None = None
    email: str | None = None
    ping: str | None = None


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule  # an ``at`` list is a Schedule too
    command: str | tuple[str, ...]  # a string runs under ``shell -c``; a tuple is an argv
    timezone: ZoneInfo
    shell: str = "/bin/sh"
    missed: Missed = Missed.SKIP
    missed_deadline: float | None = None
    overlap: Overlap = Overlap.FORBID
    timeout: float | None = None
    kill_grace: float = 30.0
    retry: Retry = Retry()
    jitter: float = 0.0
    success_codes: frozenset[int] = frozenset({0})
    env: Mapping[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    cwd: Path | None = None
    user: str | None = None
    window: Window | None = None
    max_runs: int | None = None
    enabled: bool = True
    after: tuple[str, ...] = ()
    keep: Keep = Keep()
    on_failure: str | None = None
    on_dead: str | None = None
    on_recovery: str | None = None
    on_success: str | None = None
    notify: Notify | None = None

    @property
    def argv(self) -> list[str]:
        if isinstance(self.command, str):
            return [self.shell, "-c", self.command]
        return list(self.command)

    def __hash__(self) -> int:
        return hash(self.name)


@dataclass(frozen=True)
class RunnerSettings:
    """The optional ``[cronpy]`` table of a job file."""

    store: str | None = None
    shutdown_grace: float = 30.0


@dataclass(frozen=True)
class JobFile:
    path: Path
    jobs: Mapping[str, Job]
    settings: RunnerSettings = RunnerSettings()


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
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.isoformat()

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
        }
