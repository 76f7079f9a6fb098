"""Decisions about one job's occurrences: due, missed, skipped (paused, window, overlap), or
started, and the starts that wait their turn (queued, replayed, caught up, retried).

Planning is relative to each job's ``cursor`` (the latest occurrence already handled), never
to "now", so a wall clock stepping backwards cannot repeat a run, and a busy runner starts
late instead of missing anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cronpy.engine import missed
from cronpy.engine.actions import ExpirePause, Stop
from cronpy.engine.board import Board
from cronpy.engine.jobs import JobRuntime, Pending
from cronpy.engine.late import Lateness
from cronpy.engine.missed import jitter_offset
from cronpy.model import Overlap, SkipReason, Status, Trigger

TINY = timedelta(microseconds=1)
DUE_BURST_LIMIT = 1000  # occurrences of one job handled one by one in a single tick
_QUEUEABLE = (Trigger.SCHEDULE, Trigger.MANUAL, Trigger.AFTER)


def next_occurrence(rt: JobRuntime, after: datetime) -> datetime | None:
    return rt.job.schedule.next_after(after, anchor=rt.state.first_seen)


class Occurrences:
    def __init__(self, board: Board) -> None:
        self.board = board
        self.lateness = Lateness(board)

    def service(self, rt: JobRuntime, now: datetime) -> None:
        """Everything due for this job at ``now``: an expired pause, a retry, its occurrences,
        and the starts waiting for their turn."""
        st = rt.state
        if st.paused and st.paused_until is not None and st.paused_until <= now:
            self.board.emit(ExpirePause(rt.name))
            self.board.update(rt, paused=False, paused_until=None)
            self.resumed(rt, now)
        self._due_retries(rt, now)
        self.lateness.check(rt, now)
        self._occurrences(rt, now)
        self.release_pending(rt, now)

    def _due_retries(self, rt: JobRuntime, now: datetime) -> None:
        """Queue each retry whose time has come. It stays in the job's saved state until its
        claim is written (``Engine.claimed``), so a runner that dies meanwhile leaves it to
        the next one."""
        queued = {(p.scheduled_at, p.attempt) for p in rt.pending if p.trigger is Trigger.RETRY}
        for retry in rt.state.retries:
            if retry.due_at <= now and (retry.scheduled_at, retry.attempt) not in queued:
                if not rt.job.enabled:  # switched off entirely: no retry starts either
                    self.board.drop_retry(rt, retry.scheduled_at)
                    self.board.log("retry-dropped", job=rt.name, reason="disabled")
                    continue
                rt.pending.append(Pending(retry.scheduled_at, Trigger.RETRY, retry.attempt))

    def resumed(self, rt: JobRuntime, now: datetime) -> None:
        if rt.holds_while_paused():
            rt.live_from = now
        self.board.log("resumed", job=rt.name)

    def _occurrences(self, rt: JobRuntime, now: datetime) -> None:
        job = rt.job
        if not job.enabled or rt.exhausted() or self.board.refused_since is not None:
            return
        if rt.paused(now) and rt.holds_while_paused():
            return
        cursor = rt.state.cursor or now
        boundary = max(t for t in (self.board.live_since, rt.live_from, cursor) if t is not None)
        if cursor < boundary:
            missed_end = min(boundary - TINY, now)
            self._missed(rt, cursor, missed_end, now)
            cursor = rt.state.cursor or missed_end
        handled = 0
        occurrence = next_occurrence(rt, cursor)
        while occurrence is not None and occurrence + jitter_offset(job, occurrence) <= now:
            if handled >= DUE_BURST_LIMIT:
                record = missed.missed_range(
                    job,
                    first_seen=rt.state.first_seen,
                    start=cursor,
                    end=now,
                    reason="too many due at once",
                )
                if record is not None:
                    self._record_missed(rt, record, now)
                self.board.set_cursor(rt, now)
                return
            self._due(rt, occurrence, now)
            cursor = occurrence
            handled += 1
            if rt.exhausted():
                break
            occurrence = next_occurrence(rt, cursor)

    def _missed_reason(self, rt: JobRuntime) -> str:
        live_since = self.board.live_since
        if rt.live_from is not None and live_since is not None and rt.live_from > live_since:
            return "job was paused"
        return self.board.gap_reason

    def _missed(self, rt: JobRuntime, start: datetime, end: datetime, now: datetime) -> None:
        """Occurrences in (start, end] passed while nobody could run them: apply ``missed``."""
        plan = missed.plan(
            rt.job,
            first_seen=rt.state.first_seen,
            start=start,
            end=end,
            now=now,
            reason=self._missed_reason(rt),
        )
        for record in plan.records:
            self._record_missed(rt, record, now)
        for catch_up in plan.starts:
            rt.pending.append(
                Pending(catch_up.scheduled_at, Trigger.CATCH_UP, not_before=catch_up.not_before)
            )
        if plan.starts:
            self.board.log(
                "catch-up",
                job=rt.name,
                starts=len(plan.starts),
                first=plan.starts[0].scheduled_at.isoformat(),
            )
        self.board.set_cursor(rt, plan.cursor)

    def _record_missed(self, rt: JobRuntime, record: missed.MissedRecord, now: datetime) -> None:
        self.board.record(
            rt,
            Status.MISSED,
            record.scheduled_at,
            now,
            record.reason,
            missed_count=record.count,
            cursor=record.cursor,
        )
        self.board.log("missed", job=rt.name, count=record.count, reason=record.reason)

    def _due(self, rt: JobRuntime, occurrence: datetime, now: datetime) -> None:
        """A regular occurrence is due; late if the runner was busy, which never makes it missed."""
        job = rt.job
        self.board.set_cursor(rt, occurrence)
        if rt.paused(now):
            self.board.record(rt, Status.SKIPPED, occurrence, now, SkipReason.PAUSED)
            return
        if job.window is not None and not job.window.allows(occurrence.astimezone(job.timezone)):
            self.board.record(rt, Status.SKIPPED, occurrence, now, SkipReason.WINDOW)
            return
        if job.late_after is not None:
            rt.late_due[occurrence] = occurrence + timedelta(seconds=job.late_after)
        self.start_or_overlap(rt, Pending(occurrence, Trigger.SCHEDULE), now)

    def start_or_overlap(self, rt: JobRuntime, start: Pending, now: datetime) -> bool:
        """Start now, or apply the overlap policy if the job is busy. True: it starts."""
        policy = rt.job.overlap
        if not rt.busy() or policy is Overlap.ALLOW:
            return self.board.launch(
                rt, start.scheduled_at, start.trigger, start.attempt, start.control_id
            )
        if policy is Overlap.FORBID:
            self._skip(rt, start, now, str(SkipReason.OVERLAP))
            return False
        if policy is Overlap.QUEUE:
            if any(p.trigger in _QUEUEABLE for p in rt.pending):
                self._skip(rt, start, now, f"{SkipReason.OVERLAP}: a start is already queued")
                return False
            rt.pending.append(start)
            return False
        # replace: stop what runs, start this one once it has ended
        for run_id in list(rt.running):
            self.board.emit(Stop(run_id, "replaced"))
        for dropped in [p for p in rt.pending if p.trigger is not Trigger.RETRY]:
            rt.pending.remove(dropped)
            self._skip(rt, dropped, now, f"{SkipReason.OVERLAP}: replaced by a newer start")
        rt.pending.append(start)
        return False

    def _skip(self, rt: JobRuntime, start: Pending, now: datetime, reason: str) -> None:
        self.board.record(
            rt, Status.SKIPPED, start.scheduled_at, now, reason, trigger=start.trigger
        )

    def release_pending(self, rt: JobRuntime, now: datetime) -> None:
        """Start queued, replayed, caught-up and retried runs one at a time, in order."""
        while rt.pending and not rt.running and not rt.starting and not self.board.stopping:
            head = rt.pending[0]
            if head.not_before is not None and head.not_before > now:
                return
            rt.pending.popleft()
            self.board.launch(
                rt, head.scheduled_at, head.trigger, head.attempt, head.control_id, head.handed
            )
