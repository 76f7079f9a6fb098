"""Decisions when a run ends: its record, its notifications, a retry with backoff, the jobs
that run ``after`` it, and history pruning.

A failed occurrence is retried up to ``retry.attempts`` in all; the retry is written to the
store when planned (``PlanRetry``), so it survives its runner and any runner sharing the store
may claim it. ``on_dead`` fires when the last attempt fails. A job ``after`` several others
has their successes counted in the store (``UpstreamSucceeded``), whichever runner saw them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from cronpy.engine.actions import (
    Announce,
    DropRetry,
    FinishRun,
    PlanRetry,
    Prune,
    UpstreamSucceeded,
)
from cronpy.engine.board import Board
from cronpy.engine.jobs import Active, JobRuntime, Pending
from cronpy.engine.occurrences import TINY, Occurrences
from cronpy.model import Finish, Outcome, RetryDue, Run, SkipReason, Status, Trigger

MAX_PENDING_RETRIES = 100  # per job; beyond this the oldest chain is dropped, with a record


class Outcomes:
    def __init__(
        self, board: Board, occurrences: Occurrences, host: str, rng: random.Random
    ) -> None:
        self.board = board
        self.occurrences = occurrences
        self.host = host
        self.rng = rng

    def finish(self, rt: JobRuntime, active: Active, outcome: Outcome, now: datetime) -> None:
        finish = Finish(
            status=outcome.status,
            ended_at=now,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            output_tail=outcome.output_tail,
            reason=outcome.reason,
            cpu_seconds=outcome.cpu_seconds,
            max_rss_kib=outcome.max_rss_kib,
        )
        run = Run(
            id=active.run_id,
            job=rt.name,
            status=finish.status,
            trigger=active.trigger,
            scheduled_at=active.scheduled_at,
            started_at=active.started_at,
            ended_at=now,
            exit_code=finish.exit_code,
            signal=finish.signal,
            attempt=active.attempt,
            host=self.host,
            pid=outcome.pid,
            reason=finish.reason,
            output_tail=finish.output_tail,
            cpu_seconds=finish.cpu_seconds,
            max_rss_kib=finish.max_rss_kib,
        )
        self.board.emit(FinishRun(run, finish))
        self.board.log(
            "end",
            job=rt.name,
            run=run.id,
            status=str(run.status),
            exit_code=run.exit_code,
            duration=run.duration,
        )
        self.after_final(rt, run, now)
        keep = rt.job.keep
        older = now - timedelta(seconds=keep.age) if keep.age is not None else None
        self.board.emit(Prune(rt.name, keep.runs, older))

    def after_final(self, rt: JobRuntime, run: Run, now: datetime) -> None:
        """What follows an ended (or lost) run: notifications, a retry, dependants."""
        job = rt.job
        if run.status is Status.SUCCEEDED:
            self.occurrences.lateness.succeeded(rt, run)
            self._announce("on_success", rt, run)
            if rt.failed_last:
                self._announce("on_recovery", rt, run)
            rt.failed_last = False
            for other in self.board.jobs.values():
                if job.name in other.job.after and not self.board.stopping:
                    self._start_dependant(other, run, now)
            return
        if not run.status.is_failure:
            return
        self._announce("on_failure", rt, run)
        if (
            run.status.retryable
            and run.attempt < job.retry.attempts
            and job.enabled
            and run.scheduled_at is not None
        ):
            self._plan_retry(rt, run, now)
            return
        rt.failed_last = True
        self.board.drop_retry(rt, run.scheduled_at)
        self._announce("on_dead", rt, run)

    def _plan_retry(self, rt: JobRuntime, run: Run, now: datetime) -> None:
        """Give this occurrence its own next attempt: each failed occurrence keeps its own
        retry chain, so a later failure never overwrites an earlier one's retry."""
        assert run.scheduled_at is not None
        delay = rt.job.retry.delay_before(run.attempt + 1, self.rng)
        retries = [r for r in rt.state.retries if r.scheduled_at != run.scheduled_at]
        if len(retries) >= MAX_PENDING_RETRIES:
            # a job failing faster than it retries: drop the oldest chain, and say so
            oldest = min(retries, key=lambda r: r.scheduled_at)
            retries.remove(oldest)
            self.board.emit(DropRetry(rt.name, oldest.scheduled_at))
            self.board.record(
                rt,
                Status.SKIPPED,
                oldest.scheduled_at,
                now,
                f"retry dropped: {MAX_PENDING_RETRIES} retries of this job already pending",
                trigger=Trigger.RETRY,
                attempt=oldest.attempt,
            )
        retry = RetryDue(run.scheduled_at, run.attempt + 1, now + timedelta(seconds=delay))
        retries.append(retry)
        self.board.update(rt, retries=tuple(retries))
        self.board.emit(PlanRetry(rt.name, retry))  # durable and shared before it is due
        self.board.log("retry-planned", job=rt.name, attempt=run.attempt + 1, delay=round(delay, 3))

    def _start_dependant(self, rt: JobRuntime, cause: Run, now: datetime) -> None:
        """An upstream job of ``rt`` succeeded. With several upstream jobs, ``rt`` runs once
        each of them has succeeded since its last ``after`` start (Airflow's all_success);
        every upstream success that does not start it leaves a record saying why."""
        at = cause.ended_at or now
        if rt.after_at is not None and at <= rt.after_at:
            at = rt.after_at + TINY  # two upstream jobs ended together: one record each
        rt.after_at = at
        if not rt.job.enabled:
            self.board.record(rt, Status.SKIPPED, at, now, "disabled", trigger=Trigger.AFTER)
            return
        if rt.paused(now):
            self.board.record(rt, Status.SKIPPED, at, now, SkipReason.PAUSED, trigger=Trigger.AFTER)
            return
        if len(rt.job.after) > 1:
            # the other upstream jobs may end on other runners: the store counts them all
            self.board.emit(UpstreamSucceeded(rt.name, cause.job, tuple(rt.job.after), at))
            return
        self.occurrences.start_or_overlap(rt, Pending(at, Trigger.AFTER), now)

    def upstream_answer(
        self, action: UpstreamSucceeded, waiting: Sequence[str], now: datetime
    ) -> None:
        """What the store said of an upstream success: nothing more ``waiting``, this runner
        completed the set and starts the job; else one record saying what it waits for."""
        rt = self.board.jobs.get(action.job)
        if rt is None:
            return
        if not waiting:
            self.occurrences.start_or_overlap(rt, Pending(action.at, Trigger.AFTER), now)
            return
        names = ", ".join(repr(name) for name in waiting)
        why = f"after: {action.upstream!r} succeeded; waiting for {names} to succeed too"
        self.board.record(rt, Status.SKIPPED, action.at, now, why, trigger=Trigger.AFTER)

    def _announce(self, event: str, rt: JobRuntime, run: Run) -> None:
        self.board.emit(Announce(event, rt.job, run))
