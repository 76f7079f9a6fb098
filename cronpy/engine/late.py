"""Late-run alerts: ``late_after`` (an occurrence has not succeeded that long after it was due)
and ``max_duration`` (a run is still going that long after it started, and is not killed for
it, unlike ``timeout``). Each raises ``on_late`` and the notifiers once per occurrence or run,
and marks the job late until it next succeeds."""

from __future__ import annotations

from datetime import datetime

from cronpy.engine.actions import Announce
from cronpy.engine.board import Board
from cronpy.engine.jobs import JobRuntime
from cronpy.model import Run, Status, Trigger
from cronpy.model.durations import format_duration


class Lateness:
    def __init__(self, board: Board) -> None:
        self.board = board

    def check(self, rt: JobRuntime, now: datetime) -> None:
        job = rt.job
        for occurrence, deadline in sorted(rt.late_due.items()):
            if deadline > now:
                continue
            del rt.late_due[occurrence]
            waited = format_duration(job.late_after or 0)
            self._late(rt, occurrence, f"not succeeded {waited} after it was due", now, run_id=None)
        for run_id, deadline in sorted(rt.long_due.items()):
            if deadline > now:
                continue
            del rt.long_due[run_id]
            active = rt.running.get(run_id)
            if active is None:
                continue
            took = format_duration(job.max_duration or 0)
            self._late(
                rt,
                active.scheduled_at,
                f"run {run_id} still running {took} after it started",
                now,
                run_id=run_id,
            )

    def succeeded(self, rt: JobRuntime, run: Run) -> None:
        """A success ends the late state of its occurrence, and of the job."""
        if run.scheduled_at is not None:
            rt.late_due.pop(run.scheduled_at, None)
        if rt.state.late is not None:
            self.board.update(rt, late=None)

    def _late(
        self,
        rt: JobRuntime,
        occurrence: datetime | None,
        reason: str,
        now: datetime,
        *,
        run_id: int | None,
    ) -> None:
        if run_id is None:  # the occurrence's own run, if one is going on
            run_id = next((i for i, a in rt.running.items() if a.scheduled_at == occurrence), None)
        active = rt.running.get(run_id) if run_id is not None else None
        if active is not None:
            status = Status.RUNNING
        elif any(r.scheduled_at == occurrence for r in rt.state.retries) or rt.failed_last:
            status = Status.FAILED
        else:
            status = Status.SKIPPED
        when = "" if occurrence is None else f" (due {occurrence.isoformat()})"
        note = f"late: {reason}{when}"
        self.board.update(rt, late=note)
        self.board.log("late", job=rt.name, reason=note)
        run = Run(
            id=run_id or 0,
            job=rt.name,
            status=status,
            trigger=active.trigger if active is not None else Trigger.SCHEDULE,
            scheduled_at=occurrence,
            started_at=active.started_at if active is not None else None,
            attempt=active.attempt if active is not None else 1,
            reason=note,
        )
        self.board.emit(Announce("on_late", rt.job, run))
