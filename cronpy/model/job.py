"""A job as the job file defines it, after validation: frozen, typed, no raw dicts or strings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cronpy.model.enums import Backoff, Environment, MailOutput, Missed, Overlap

if TYPE_CHECKING:  # keeps the schedule code out of read commands that only touch runs
    import random

    from cronpy.interfaces import Schedule


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


@dataclass(frozen=True, slots=True)  # no __dict__: one per job, 100,000 jobs
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
    environment: Environment = Environment.INHERIT
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
    on_late: str | None = None
    late_after: float | None = None  # seconds after its due time an occurrence is late
    max_duration: float | None = None  # seconds a run may go on before it is late
    hook_timeout: float = 60.0  # seconds an on_* hook may run before its group is stopped
    notify: Notify | None = None
    description: str | None = None  # what the job is for, in the author's words
    # cron's rule by default: with notify.email set, a run that printed anything is mailed
    mail_output: MailOutput = MailOutput.ALWAYS

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
    metrics: str | None = None  # HOST:PORT to serve Prometheus metrics on
    smtp: Smtp | None = None  # where notify.email goes; None: localhost:25
    # a cgroup per run where one is delegated (cgroup.kill reaches everything); moving the
    # runner into it costs ~8 ms per start on an idle kernel (an RCU grace period)
    cgroups: bool = True
    # start each occurrence's process this long before it is due, held before its command
    # until the due instant (cronpy.launch.prearm); 0 starts it at the due instant
    prearm: float = 1.0


@dataclass(frozen=True)
class Smtp:
    """The ``smtp`` table of ``[cronpy]``: the server notify.email sends through."""

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password_file: Path | None = None  # read at each send, so a rotated secret is picked up
    password_env: str | None = None  # the runner's environment variable holding it
    sender: str | None = None  # ``from``; default cronpy@HOSTNAME


@dataclass(frozen=True)
class JobFile:
    path: Path
    jobs: Mapping[str, Job]
    settings: RunnerSettings = RunnerSettings()
