"""Every seam the engine depends on, in one place: time, schedules, persistence, processes and
notifications. Implementations live in runtime/ (clock), schedule/, store/, launch/ and notify/;
tests hand the engine fakes of each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: `cronpy status` should not load the job-file model
    from cronpy.model import (
        Claim,
        Control,
        ControlKind,
        Finish,
        Job,
        JobState,
        LaunchRequest,
        Outcome,
        RetryDue,
        Run,
        RunnerInfo,
        Spawned,
        Status,
        Trigger,
    )
    from cronpy.model.launch import ArmRequest


class Clock(Protocol):
    def now(self) -> datetime:
        """Current wall time, aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (does not advance across suspend on Linux)."""
        ...

    def boottime(self) -> float:
        """Seconds since boot, suspend included: it outruns monotonic while the machine sleeps."""
        ...


COUNT_CAP = 100_000
"""``Schedule.count_between`` stops counting here: past it, the exact number no longer matters."""


class Schedule(Protocol):
    """When a job fires: a pure function of time (``cronpy.schedule`` has the kinds).

    Every question takes aware datetimes and answers in UTC. ``anchor`` is when the job first
    appeared: ``every`` schedules count their cadence from it (the others ignore it); without
    one, a query counts from the earliest instant it was given.
    """

    @property
    def text(self) -> str:
        """The schedule as written."""
        ...

    @property
    def fixed_time(self) -> bool:
        """Whether the DST rule for fixed-time jobs applies (DESIGN §3)."""
        ...

    @property
    def is_reboot(self) -> bool:
        """``@reboot``: started once per boot by the runner, never on the clock."""
        ...

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """First fire instant strictly after ``after`` (aware), in UTC; None if it never will."""
        ...

    def next_times(
        self, after: datetime, n: int, *, anchor: datetime | None = None
    ) -> list[datetime]:
        """The next ``n`` fire instants strictly after ``after`` (fewer if it stops firing)."""
        ...

    def fires_at(self, instant: datetime, *, anchor: datetime | None = None) -> bool:
        """Whether ``instant`` is one of the fire times (an ``every`` needs its anchor)."""
        ...

    def count_between(
        self, start: datetime, end: datetime, *, anchor: datetime | None = None, limit: int
    ) -> tuple[list[datetime], int]:
        """Up to ``limit`` fire instants in (start, end], and how many there are (at most
        COUNT_CAP)."""
        ...

    def previous_fire(
        self, before: datetime, *, not_before: datetime, anchor: datetime | None = None
    ) -> datetime | None:
        """The latest fire instant in [not_before, before], or None. Without ``anchor`` an
        ``every`` counts its cadence from ``not_before``."""
        ...


class Launcher(Protocol):
    """Starts, stops and reaps job processes (``cronpy.launch.Launcher``)."""

    def start(self, req: LaunchRequest) -> int | Outcome: ...

    def stop(self, run_id: int, reason: str, grace: float | None = None) -> None: ...

    def drain(self) -> list[Outcome]: ...

    def stop_all(self, reason: str, grace: float) -> None: ...

    @property
    def running(self) -> Mapping[int, int]: ...


class Prearmer(Protocol):
    """Holds processes started ahead of their due instant (``cronpy.launch.Launcher``)."""

    @property
    def armed(self) -> Mapping[tuple[str, datetime], Job]: ...

    def arm(self, req: ArmRequest) -> bool: ...

    def disarm(self, keep: Mapping[tuple[str, datetime], Job]) -> int:
        """Kill the held processes not in ``keep``; how many."""
        ...

    def release(
        self, reqs: Sequence[LaunchRequest], until_due: Callable[[], bool] = ...
    ) -> dict[int, int] | None:
        """Release the held processes of these claimed runs once ``until_due`` returns True
        (run id to pid); None, releasing none, when it returns False."""
        ...


class Notifier(Protocol):
    """What runs beside a job: its ``on_*`` commands and ``notify`` targets."""

    def started(self, job: Job, run_id: int) -> None: ...

    def fire(self, event: str, job: Job, run: Run) -> None:
        """``event`` is on_success, on_failure, on_dead or on_recovery."""
        ...


class Observer(Protocol):
    """Told what the scheduler applies, after it applied it (metrics: cronpy.runtime.metrics)."""

    def started(self, job: str, run_id: int, trigger: Trigger, due: datetime, at: datetime) -> None:
        """A claimed run's process started ``at``, for the occurrence ``due``."""

    def finished(self, run: Run) -> None: ...

    def recorded(self, job: str, status: Status) -> None:
        """An occurrence that did not start: skipped or missed."""

    def states(self, states: Sequence[JobState]) -> None:
        """Job states saved, with their next planned runs."""

    def set_degraded(self, note: str | None) -> None: ...


class Listener(Protocol):
    """Wake-ups from the store (PostgreSQL LISTEN/NOTIFY)."""

    def fileno(self) -> int: ...

    def drain(self) -> bool:
        """Consume what arrived; True if anything did."""
        ...

    def close(self) -> None: ...


class Store(ABC):
    # -- runners -----------------------------------------------------------------------------
    shared = False
    """True where several runners, on several hosts, may use the store at once (PostgreSQL):
    the runtime then takes leases, heartbeats, hands work to its peers and listens."""

    @abstractmethod
    def register_runner(
        self,
        host: str,
        pid: int,
        at: datetime,
        *,
        file_hash: str | None = None,
        version: str | None = None,
    ) -> int: ...

    @abstractmethod
    def heartbeat(self, runner_id: int, at: datetime, note: str | None = None) -> None: ...

    @abstractmethod
    def unregister_runner(self, runner_id: int, at: datetime) -> None: ...

    @abstractmethod
    def live_runners(self) -> list[RunnerInfo]: ...

    # -- jobs ----------------------------------------------------------------------------------
    @abstractmethod
    def job_states(self) -> dict[str, JobState]:
        """Every job the store knows, present in the file or not, in name order."""

    @abstractmethod
    def job_state(self, name: str) -> JobState | None: ...

    def job_page(self, limit: int) -> tuple[list[JobState], bool]:
        """The first ``limit`` jobs still in the runner's file, in name order, and whether
        there are more: ``status`` shows a page of 100,000 jobs without reading them all (nor
        counting them: a count of the present ones scans the table). This default reads all."""
        present = [s for s in self.job_states().values() if s.present]
        return present[:limit], len(present) > limit

    @abstractmethod
    def save_job_states(self, states: Iterable[JobState]) -> None:
        """Upsert, in one transaction. Pause fields are NOT written here (see set_paused); nor
        are first_seen, run_count and last_run_id of a job already stored (claim_run and record
        own the counters; first_seen anchors ``every`` cadences). A new job gets them all.
        Pending retries are read from plan_retry's rows, whatever a state saved here says."""

    # -- what runners share beyond runs: pending retries, `after` counts ------------------------
    @abstractmethod
    def plan_retry(self, job: str, retry: RetryDue) -> None:
        """Keep the pending retry of occurrence (``job``, ``retry.scheduled_at``), durable and
        seen by every runner; a later attempt replaces an earlier one, never the reverse.
        ``job_states`` reads a job's retries from here, not from what runners saved."""

    @abstractmethod
    def drop_retry(self, job: str, scheduled_at: datetime, attempt: int | None = None) -> None:
        """Forget that occurrence's pending retry: its attempt up to ``attempt`` was claimed
        (a later one planned meanwhile stays), or, with None, the chain was given up."""

    @abstractmethod
    def pending_retries(self) -> dict[str, tuple[RetryDue, ...]]:
        """Every pending retry, by job, oldest occurrence first."""

    @abstractmethod
    def upstream_succeeded(self, job: str, upstream: str, needed: Sequence[str]) -> list[str]:
        """One atomic step, whichever runner saw the success: add ``upstream`` to the `after`
        jobs of ``job`` that succeeded since its last `after` start; the ``needed`` ones still
        missing are returned. None missing: the set is cleared, and only this caller starts
        ``job``."""

    # -- runs ----------------------------------------------------------------------------------
    @abstractmethod
    def claim_run(
        self,
        *,
        job: str,
        scheduled_at: datetime | None,
        trigger: Trigger,
        attempt: int,
        started_at: datetime,
        host: str,
        runner_id: int,
        log_path: str | None = None,
        cursor: datetime | None = None,
        lease_until: datetime | None = None,
        max_runs: int | None = None,
        exclusive: bool = False,
    ) -> int | None:
        """Insert a ``running`` run and return its id, or None when (job, scheduled_at, attempt)
        already has a record: the occurrence was claimed before. One atomic write, made before
        the command starts. Also bumps the job's run_count and last_run_id, and moves its
        cursor forward to ``cursor`` in the same transaction, so a runner that dies right
        after the claim never counts that occurrence again. ``lease_until``: the run's lease
        (renew_leases), taken with the claim so that no instant leaves it without one."""

    def claim_runs(self, claims: Sequence[Claim]) -> list[int | None]:
        """``claim_run`` for each, in order, in one transaction where the store can (a burst of
        due jobs then pays one commit, or one round trip, instead of one per job). This
        default claims them one by one."""
        return [self.claim_run(**vars(claim)) for claim in claims]

    @abstractmethod
    def set_pid(
        self,
        run_id: int,
        pid: int,
        log_path: str | None = None,
        started_at: datetime | None = None,
    ) -> None:
        """Record the process of a claimed run; ``started_at``, when given, is when its
        command really started (a claim made for a whole burst is earlier for most)."""

    def set_pids(self, spawned: Sequence[Spawned]) -> None:
        """``set_pid`` for several runs, in one transaction where the store can. This default
        writes them one by one."""
        for s in spawned:
            self.set_pid(s.run_id, s.pid, s.log_path, s.started_at)

    @abstractmethod
    def finish_run(self, run_id: int, finish: Finish) -> Run:
        """Record the end of a started run and return the full record."""

    @abstractmethod
    def record(
        self,
        *,
        job: str,
        status: Status,
        trigger: Trigger,
        scheduled_at: datetime | None,
        at: datetime,
        host: str,
        runner_id: int | None,
        reason: str | None = None,
        missed_count: int | None = None,
        attempt: int = 1,
        cursor: datetime | None = None,
    ) -> int | None:
        """A complete record for an occurrence that did not start (skipped, missed, spawn_error).
        Returns None when (job, scheduled_at, attempt) already has a record. ``cursor`` as in
        ``claim_run``: the occurrences this record accounts for are handled."""

    @abstractmethod
    def mark_lost(
        self,
        at: datetime,
        *,
        runner_ids: Sequence[int] | None = None,
        expired_before: datetime | None = None,
        run_ids: Sequence[int] | None = None,
    ) -> list[Run]:
        """Turn ``running`` runs of the given runners (None: of every runner), or only the
        given runs, into ``lost``.
        With ``expired_before``, only the runs whose lease ended before it (a run that holds
        no lease never expires): how one runner finds the runs of another that died."""

    @abstractmethod
    def import_runs(self, runs: Sequence[Run]) -> int:
        """Copy finished records from another store (``cronpy store copy``), keeping their
        fields but not their ids; a record whose occurrence (job, scheduled_at, attempt) is
        here already is skipped, so copying twice adds nothing. Returns how many were added."""

    @abstractmethod
    def renew_leases(self, runner_id: int, until: datetime) -> list[int]:
        """Extend the lease of every ``running`` run of the runner to ``until``; return their
        ids, oldest first. A run the runner thinks it holds but that is missing here was
        marked ``lost`` by another runner."""

    @abstractmethod
    def get_run(self, run_id: int) -> Run | None: ...

    @abstractmethod
    def get_runs(self, run_ids: Sequence[int]) -> dict[int, Run]:
        """Several runs in one query (``status`` shows every job's last run)."""

    @abstractmethod
    def runs(
        self,
        job: str | None = None,
        *,
        limit: int = 20,
        status: Status | None = None,
        since: datetime | None = None,
    ) -> list[Run]:
        """Newest first (by id)."""

    @abstractmethod
    def running_runs(self) -> list[Run]: ...

    @abstractmethod
    def prune(self, job: str, *, keep_runs: int | None, older_than: datetime | None) -> list[str]:
        """Delete the job's finished runs beyond the newest ``keep_runs`` or started before
        ``older_than``; return their log paths (the caller deletes the files)."""

    # -- pauses --------------------------------------------------------------------------------
    @abstractmethod
    def set_paused(self, names: Sequence[str], paused: bool, until: datetime | None) -> None:
        """Only the pause columns. Raises UsageError, changing nothing, when a name is not a
        stored job. ``paused=False`` clears ``until``."""

    # -- controls ------------------------------------------------------------------------------
    @abstractmethod
    def push_control(
        self,
        kind: ControlKind,
        at: datetime,
        *,
        job: str | None = None,
        run_id: int | None = None,
    ) -> int: ...

    @abstractmethod
    def controls_since(self, after_id: int) -> list[Control]:
        """Every control with an id above ``after_id``, answered or not, oldest first: how each
        of several runners sees the requests meant for all of them (reload, pause changes)."""

    @abstractmethod
    def last_control_id(self) -> int:
        """The newest control's id (0 when there is none)."""

    def listen(self) -> Listener | None:
        """A file descriptor that becomes readable when a command pushed a control, for the
        runner's selector; None where the store cannot tell (the local wake socket does)."""
        return None

    @abstractmethod
    def pending_controls(self) -> list[Control]:
        """Controls neither taken by a runner (take_controls) nor completed, oldest first."""

    @abstractmethod
    def take_controls(self, runner_id: int, at: datetime) -> list[Control]:
        """The pending controls, oldest first, now held by ``runner_id``: taking is atomic, so
        with several runners asking at once each control goes to exactly one of them. The
        taker then answers each with complete_control (its taken_at and result, which the
        command waits for)."""

    @abstractmethod
    def complete_control(
        self, control_id: int, at: datetime, *, run_id: int | None = None, result: str | None = None
    ) -> None: ...

    @abstractmethod
    def get_control(self, control_id: int) -> Control | None: ...

    # -- meta ----------------------------------------------------------------------------------
    def maintain(self) -> None:  # noqa: B027 - optional hook, a no-op where nothing needs doing
        """Housekeeping kept off the hot path: the runner calls this when it is about to sleep
        with nothing due for a while (SQLite folds its write-ahead log into the database here,
        so that recording a run never pays for that fsync)."""

    @abstractmethod
    def close(self) -> None: ...
