"""The engine's decisions, as data: what should be written, started, stopped or announced.

The engine appends these to its outbox; ``cronpy.runtime.scheduler`` applies them, in order,
against the store, the launcher and the notifier. Starts are claimed together at the end of a
batch (one transaction for a burst), so the order of everything else is kept as decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cronpy.model import Finish, Job, JobState, RetryDue, Run, Status, Trigger

# Starts of occurrences of the schedule itself: claiming one moves the job's cursor past it.
CURSOR_TRIGGERS = (Trigger.SCHEDULE, Trigger.CATCH_UP)


@dataclass(frozen=True, eq=False)
class Start:
    """Claim this occurrence and, if the claim is ours, start its command."""

    job: Job
    scheduled_at: datetime
    trigger: Trigger
    attempt: int
    control_id: int | None = None
    handed: bool = False  # waited its handoff: claim it now, whichever runner is preferred

    @property
    def cursor(self) -> datetime | None:
        """What the claim accounts for: a scheduled occurrence is handled once claimed."""
        return self.scheduled_at if self.trigger in CURSOR_TRIGGERS else None


@dataclass(frozen=True)
class Record:
    """A complete record for an occurrence that did not start (skipped or missed)."""

    job: str
    status: Status
    trigger: Trigger
    scheduled_at: datetime
    at: datetime
    reason: str
    missed_count: int | None = None
    cursor: datetime | None = None
    attempt: int = 1


@dataclass(frozen=True)
class FinishRun:
    run: Run
    finish: Finish


@dataclass(frozen=True)
class Stop:
    run_id: int
    reason: str


@dataclass(frozen=True)
class Announce:
    """A notification: ``event`` is started, on_success, on_failure, on_dead or on_recovery."""

    event: str
    job: Job
    run: Run


@dataclass(frozen=True)
class AnnounceStart:
    """A run started (healthchecks-style ``/start`` pings)."""

    job: Job
    run_id: int


@dataclass(frozen=True)
class ExpirePause:
    job: str


@dataclass(frozen=True)
class Prune:
    job: str
    keep_runs: int | None
    older_than: datetime | None


@dataclass(frozen=True)
class CompleteControl:
    control_id: int
    at: datetime
    result: str
    run_id: int | None = None


@dataclass(frozen=True)
class Reload:
    """Reread the job file (a ``cronpy reload`` control), then answer the control."""

    control_id: int
    at: datetime
    answer: bool = True  # False: another runner answered it already


@dataclass(frozen=True)
class PlanRetry:
    """Keep this retry in the store, where every runner sees it and any may claim it."""

    job: str
    retry: RetryDue


@dataclass(frozen=True)
class DropRetry:
    """Forget the pending retry of an occurrence: claimed up to ``attempt``, or given up."""

    job: str
    scheduled_at: datetime
    attempt: int | None = None


@dataclass(frozen=True, eq=False)
class UpstreamSucceeded:
    """Count ``upstream``'s success towards ``job``'s `after` jobs in the store (runners share
    the count); the answer (``Engine.upstream_answer``) says whether this runner starts it."""

    job: str
    upstream: str
    needed: tuple[str, ...]
    at: datetime  # the instant the start or the record takes


@dataclass(frozen=True)
class SaveStates:
    states: tuple[JobState, ...]


Action = (
    Start
    | Record
    | FinishRun
    | Stop
    | Announce
    | AnnounceStart
    | ExpirePause
    | Prune
    | CompleteControl
    | Reload
    | PlanRetry
    | DropRetry
    | UpstreamSucceeded
    | SaveStates
)
