"""The engine's shared desk: the jobs in memory, the outbox of decisions, and which jobs a
tick touched. Every part of the engine (occurrences, outcomes, controls, planning) works
through one ``Board``, so none of them holds a store, a launcher or a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from cronpy.engine.actions import Action, CompleteControl, DropRetry, Record, Start
from cronpy.engine.jobs import JobRuntime
from cronpy.model import JobFile, Status, Trigger

Log = Callable[..., None]


class Board:
    def __init__(self, job_file: JobFile, log: Log, *, shared: bool = False) -> None:
        self.job_file = job_file
        # other runners share the store: a claim found taken, a cancel of a run we do not
        # hold, were handled by one of them, and are theirs to answer
        self.shared = shared
        self.log = log
        self.jobs: dict[str, JobRuntime] = {}
        self.by_run: dict[int, str] = {}  # run id -> job name, for the runs going on
        self.outbox: list[Action] = []
        self.dirty: set[str] = set()  # jobs whose state must be saved when the tick settles
        self.touched: set[str] = set()  # jobs the next settle replans (and the tick services)
        self.stopping = False
        self.live_since: datetime | None = None  # since when this runner has been up and awake
        self.gap_reason = "runner was down"
        # claims the store refused: no occurrence is decided until one is written again
        self.refused_since: datetime | None = None
        self.refused_retry_at: datetime | None = None

    def gap(self, until: datetime, reason: str) -> None:
        """Nothing could run before ``until``: occurrences not handled by then get the missed
        policy, recorded with ``reason``."""
        self.live_since = max(self.live_since or until, until)
        self.gap_reason = reason
        self.touched.update(self.jobs)

    def emit(self, action: Action) -> None:
        self.outbox.append(action)

    def current(self, name: str) -> bool:
        """Still in the job file (a removed job lingers while its runs finish)."""
        return name in self.job_file.jobs

    def update(self, rt: JobRuntime, **changes: Any) -> None:
        rt.state = replace(rt.state, **changes)
        self.dirty.add(rt.name)

    def drop_retry(
        self, rt: JobRuntime, scheduled_at: datetime | None, attempt: int | None = None
    ) -> None:
        """Forget the pending retry of this occurrence: claimed up to ``attempt`` (a later one
        another runner planned meanwhile stays), or given up (None), here and in the store."""
        kept = tuple(
            r
            for r in rt.state.retries
            if r.scheduled_at != scheduled_at or (attempt is not None and r.attempt > attempt)
        )
        if len(kept) != len(rt.state.retries):
            self.update(rt, retries=kept)
            if scheduled_at is not None:
                self.emit(DropRetry(rt.name, scheduled_at, attempt))

    def set_cursor(self, rt: JobRuntime, cursor: datetime) -> None:
        if rt.state.cursor is None or cursor > rt.state.cursor:
            self.update(rt, cursor=cursor)

    def record(
        self,
        rt: JobRuntime,
        status: Status,
        scheduled_at: datetime,
        now: datetime,
        reason: str,
        *,
        missed_count: int | None = None,
        trigger: Trigger = Trigger.SCHEDULE,
        cursor: datetime | None = None,
        attempt: int = 1,
    ) -> None:
        """Record an occurrence that did not start. ``cursor``: what this record accounts for
        (by default a skipped scheduled occurrence itself), saved in the same write."""
        if cursor is None and status is Status.SKIPPED and trigger is Trigger.SCHEDULE:
            cursor = scheduled_at
        self.emit(
            Record(
                rt.name,
                status,
                trigger,
                scheduled_at,
                now,
                str(reason),
                missed_count,
                cursor,
                attempt,
            )
        )
        if status is Status.SKIPPED:
            self.log(
                "skipped", job=rt.name, scheduled_at=scheduled_at.isoformat(), reason=str(reason)
            )

    def launch(
        self,
        rt: JobRuntime,
        scheduled_at: datetime,
        trigger: Trigger,
        attempt: int = 1,
        control_id: int | None = None,
        handed: bool = False,
    ) -> bool:
        """Decide a start. It is claimed with every other start of the batch in one
        transaction; until then the job counts as busy. False when the runner is stopping."""
        if self.stopping:
            return False
        rt.starting += 1
        self.emit(Start(rt.job, scheduled_at, trigger, attempt, control_id, handed))
        return True

    def complete(
        self, control_id: int, now: datetime, *, result: str, run_id: int | None = None
    ) -> None:
        self.emit(CompleteControl(control_id, now, result, run_id))
