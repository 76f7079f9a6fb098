"""What the engine knows of each job while it runs: the job, its stored state, its runs in
flight and the starts still waiting, with the small rules that read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cronpy.model import Job, JobState, Missed, Trigger


@dataclass
class Active:
    """A run that is going on."""

    run_id: int
    scheduled_at: datetime | None
    attempt: int
    trigger: Trigger
    started_at: datetime


@dataclass
class Pending:
    """A start waiting for its time (jitter, retry backoff) and for the job's running run."""

    scheduled_at: datetime
    trigger: Trigger
    attempt: int = 1
    not_before: datetime | None = None
    control_id: int | None = None
    handed: bool = False  # deferred once for a peer runner: its next claim is not deferred


class PendingQueue(list[Pending]):
    """A job's waiting starts, oldest first: a list with deque's two end operations. An empty
    deque holds a 64-slot block (~600 B) and nearly every job's queue is empty; with 100,000
    jobs that was 60 MiB. The queue stays short (at most 100 replayed starts)."""

    __slots__ = ()

    def appendleft(self, item: Pending) -> None:
        self.insert(0, item)

    def popleft(self) -> Pending:
        return self.pop(0)


@dataclass(slots=True)  # no __dict__: one per job, 100,000 jobs
class JobRuntime:
    job: Job
    state: JobState
    starting: int = 0  # starts decided but not claimed yet: the job counts as busy
    running: dict[int, Active] = field(default_factory=dict)
    pending: PendingQueue = field(default_factory=PendingQueue)
    live_from: datetime | None = None  # occurrences before this were missed (paused, runner down)
    failed_last: bool = False  # the last final result was a failure (for on_recovery)
    after_at: datetime | None = None  # the instant of our latest `after` record or start
    late_due: dict[datetime, datetime] = field(default_factory=dict)  # occurrence -> late at
    long_due: dict[int, datetime] = field(default_factory=dict)  # run id -> too long at
    # the state as the store has it (read at start, or last saved): settle writes only a state
    # that is not this one, so a restart with 100,000 unchanged jobs writes none of them
    saved: JobState | None = None

    @property
    def name(self) -> str:
        return self.job.name

    def paused(self, now: datetime) -> bool:
        return self.state.is_paused(now)

    def holds_while_paused(self) -> bool:
        """Catch-up jobs hold occurrences while paused; their missed policy decides on resume."""
        return self.job.missed is not Missed.SKIP

    def exhausted(self) -> bool:
        """``max_runs`` reached, counting starts decided but not claimed yet."""
        limit = self.job.max_runs
        return limit is not None and self.state.run_count + self.starting >= limit

    def busy(self) -> bool:
        return bool(self.running) or bool(self.pending) or self.starting > 0
