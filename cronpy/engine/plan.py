"""When each job next needs the engine: one heap entry per job and planned instant, so the
runner sleeps until the earliest one instead of polling. Stale entries are skipped lazily."""

from __future__ import annotations

import heapq
from dataclasses import replace
from datetime import datetime

from cronpy.engine.actions import CURSOR_TRIGGERS
from cronpy.engine.board import Board
from cronpy.engine.jobs import JobRuntime
from cronpy.engine.missed import jitter_offset
from cronpy.engine.occurrences import TINY, next_occurrence
from cronpy.model import JobState, Trigger


class Planner:
    def __init__(self, board: Board) -> None:
        self.board = board
        self._heap: list[tuple[datetime, int, str]] = []
        self._event: dict[str, datetime | None] = {}
        self._seq = 0

    def replan(self, name: str) -> None:
        rt = self.board.jobs.get(name)
        when = self._next_event(rt) if rt is not None else None
        if self._event.get(name) == when:
            return
        self._event[name] = when
        if when is not None:
            self._seq += 1
            heapq.heappush(self._heap, (when, self._seq, name))

    def pop_due(self, now: datetime) -> list[str]:
        """The jobs whose planned instant has come."""
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            when, _, name = heapq.heappop(self._heap)
            if self._event.get(name) == when:
                self._event[name] = None
                due.append(name)
        return due

    def within(self, until: datetime) -> list[tuple[str, datetime]]:
        """The jobs planned at or before ``until``, with their instants: a walk of the heap's
        top only, so 100,000 planned jobs cost nothing when few are due."""
        found: list[tuple[str, datetime]] = []
        heap, stack = self._heap, [0]
        while stack:
            i = stack.pop()
            if i >= len(heap) or heap[i][0] > until:
                continue
            when, _, name = heap[i]
            if self._event.get(name) == when:
                found.append((name, when))
            stack += (2 * i + 1, 2 * i + 2)
        return found

    def next_wakeup(self) -> datetime | None:
        while self._heap and self._event.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def planned(self, rt: JobRuntime, now: datetime) -> datetime | None:
        """The job's next occurrence, as ``status`` shows it."""
        job = rt.job
        if not job.enabled or rt.exhausted() or not self.board.current(job.name):
            return None
        return next_occurrence(rt, rt.state.cursor or now)

    def _next_event(self, rt: JobRuntime) -> datetime | None:
        st, job = rt.state, rt.job
        if not (st.paused or st.retries or rt.late_due or rt.long_due or rt.pending):
            # nearly every job, and every job at start: only its next occurrence (no list;
            # 100,000 jobs are planned at start)
            occurrence = st.next_run_at
            if occurrence is None or not job.enabled or rt.exhausted():
                return None
            if not self.board.current(job.name):
                return None
            if job.jitter <= 0:  # the planned datetime itself, not an equal copy per job
                return occurrence
            return occurrence + jitter_offset(job, occurrence)
        times: list[datetime] = []
        if st.paused and st.paused_until is not None:
            times.append(st.paused_until)
        # a retry already queued waits on its Pending (a peer's handoff, the job's running run),
        # not on its due time, which has passed: planning that would wake the runner in a loop
        queued = {(p.scheduled_at, p.attempt) for p in rt.pending if p.trigger is Trigger.RETRY}
        times.extend(r.due_at for r in st.retries if (r.scheduled_at, r.attempt) not in queued)
        times.extend(rt.late_due.values())
        times.extend(rt.long_due.values())
        if rt.pending and not rt.running and rt.pending[0].not_before is not None:
            times.append(rt.pending[0].not_before)
        held = st.paused and st.paused_until is None and rt.holds_while_paused()
        if job.enabled and not rt.exhausted() and not held and self.board.current(job.name):
            occurrence = rt.state.next_run_at
            if occurrence is not None:
                times.append(occurrence + jitter_offset(job, occurrence))
        return min(times, default=None)


def with_next_run(state: JobState, when: datetime | None) -> JobState:
    """``replace(state, next_run_at=when)`` at half its cost: a start plans every job, and
    100,000 new jobs each get their first planned run this way."""
    return JobState(
        name=state.name,
        first_seen=state.first_seen,
        cursor=state.cursor,
        next_run_at=when,
        run_count=state.run_count,
        paused=state.paused,
        paused_until=state.paused_until,
        last_run_id=state.last_run_id,
        boot_id=state.boot_id,
        retries=state.retries,
        late=state.late,
        schedule=state.schedule,
        timezone=state.timezone,
        command=state.command,
        present=state.present,
        enabled=state.enabled,
    )


def durable(rt: JobRuntime) -> JobState:
    """The state to save: its cursor stops short of an occurrence that is still waiting to
    start (a caught-up, replayed or queued start lives only in memory until its claim),
    so a runner killed meanwhile leaves it to the next one instead of losing it."""
    waiting = [p.scheduled_at for p in rt.pending if p.trigger in CURSOR_TRIGGERS]
    cursor = rt.state.cursor
    if waiting and cursor is not None and min(waiting) <= cursor:
        return replace(rt.state, cursor=min(waiting) - TINY)
    return rt.state
