"""The runner's decisions: which occurrence is due, missed, skipped or started, and what next.

``Core`` is driven from outside: ``tick()`` does everything due at the clock's current time and
``next_wakeup()`` says when it next has work. It never sleeps and never reads the real clock, so
tests drive it with a ``FakeClock`` through hours of simulated time in milliseconds. The real-time
loop around it lives in ``runner.py``.

Invariants it keeps:
- every occurrence leaves exactly one record (a run, or a skipped/missed record saying why not);
- an occurrence is claimed in the store (one atomic write) before its command starts, and a claim
  that already exists is never started again;
- ``cursor`` (per job) is the latest occurrence already handled; planning is relative to it, never
  to "now", so a wall clock stepping backwards cannot repeat a run.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cronpy.engine import missed
from cronpy.engine.missed import jitter_offset
from cronpy.errors import StateError
from cronpy.interfaces import Launcher, Notifier, Store
from cronpy.model import (
    Claim,
    Control,
    ControlKind,
    Finish,
    Job,
    JobFile,
    JobState,
    LaunchRequest,
    Missed,
    Outcome,
    Overlap,
    Run,
    SkipReason,
    Spawned,
    Status,
    Trigger,
)
from cronpy.runtime import faults
from cronpy.runtime.backlog import RETRY_EVERY, WriteBacklog

_TINY = timedelta(microseconds=1)
_CURSOR_TRIGGERS = (Trigger.SCHEDULE, Trigger.CATCH_UP)  # starts of occurrences of the schedule
DUE_BURST_LIMIT = 1000  # occurrences of one job handled one by one in a single tick

Log = Callable[..., None]


@dataclass
class _Active:
    run_id: int
    scheduled_at: datetime | None
    attempt: int
    trigger: Trigger
    started_at: datetime


@dataclass
class _Pending:
    """A start waiting for its time (jitter) and for the job's running run to end."""

    scheduled_at: datetime
    trigger: Trigger
    attempt: int = 1
    not_before: datetime | None = None
    control_id: int | None = None


@dataclass
class _JobRuntime:
    job: Job
    state: JobState
    starting: int = 0  # starts decided this tick, not claimed yet: the job is busy
    running: dict[int, _Active] = field(default_factory=dict)
    pending: deque[_Pending] = field(default_factory=deque)
    live_from: datetime | None = None  # occurrences before this were missed (paused or runner down)
    failed_last: bool = False  # the last final result was a failure (for on_recovery)


@dataclass
class _Start:
    """A start decided during a tick, claimed with the others when the tick ends."""

    rt: _JobRuntime
    scheduled_at: datetime
    trigger: Trigger
    attempt: int
    control_id: int | None


class Core:
    def __init__(
        self,
        job_file: JobFile,
        store: Store,
        launcher: Launcher,
        clock: Any,
        *,
        runner_id: int,
        host: str,
        logs_dir: Path,
        hooks: Notifier | None = None,
        boot_id: str | None = None,
        boot_time: datetime | None = None,
        log: Log | None = None,
        rng: random.Random | None = None,
        run_env: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.launcher = launcher
        self.clock = clock
        self.runner_id = runner_id
        self.host = host
        self.logs_dir = logs_dir
        self.hooks = hooks
        self.boot_id = boot_id
        self.boot_time = boot_time
        self.log: Log = log or (lambda event, **fields: None)
        self.rng = rng or random.Random()
        self.run_env = dict(run_env or {})  # given to every run, e.g. CRONPY_STATE_DIR
        self.job_file = job_file
        self.jobs: dict[str, _JobRuntime] = {}
        self.stopping = False
        self._live_since: datetime | None = None
        self._last_clock: tuple[datetime, float, float] | None = None
        self._gap_reason = "runner was down"
        self._controls_waiting = True
        # writes the store refused (disk full, database locked): kept in order, retried
        self.on_degraded: Callable[[str | None], None] = lambda note: None
        self._backlog = WriteBacklog(clock.now, self.log, lambda note: self.on_degraded(note))
        self.on_reload: Callable[[], str] = lambda: "reload is not supported here"
        self._dirty: set[str] = set()
        self._touched: set[str] = set()
        self._by_run: dict[int, str] = {}
        self._log_dirs: set[str] = set()
        # pids of runs started this tick, written in one transaction when the tick ends:
        # only the claim has to be written before a start
        self._pids: list[Spawned] = []
        self._starting: list[_Start] = []
        # planning: one heap entry per job and planned instant; stale entries are skipped lazily
        self._heap: list[tuple[datetime, int, str]] = []
        self._event: dict[str, datetime | None] = {}
        self._seq = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Take over the state: adopt the jobs, close what a dead runner left, fire @reboot jobs."""
        now = self.clock.now()
        self._live_since = now
        self._last_clock = (now, self.clock.monotonic(), self.clock.boottime())
        self._adopt(self.job_file, now)
        for run in self.store.mark_lost(now):
            self.log("lost", job=run.job, run=run.id, reason=run.reason)
            rt = self.jobs.get(run.job)
            if rt is not None:
                self._after_final(rt, run, now)
        self._fire_reboot_jobs(now)
        self._start_all(now)
        self._flush()

    def reload(self, job_file: JobFile) -> None:
        """Swap in a new job file: jobs keep state by name; running runs go on undisturbed."""
        now = self.clock.now()
        old = set(self.jobs)
        self.job_file = job_file
        self._adopt(job_file, now)
        added = sorted(set(job_file.jobs) - old)
        removed = sorted(old - set(job_file.jobs))
        self.log("reloaded", jobs=len(job_file.jobs), added=added, removed=removed)
        self._flush()

    def begin_shutdown(self) -> None:
        """Start nothing more. Starts still waiting stay unclaimed: the saved cursor stops
        short of them (see ``_durable``), so the next runner applies the missed policy."""
        self.stopping = True

    # -- the tick --------------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.now()
        self._detect_suspend(now)
        if self._backlog.due(now):
            self._backlog.replay()
        self._collect_outcomes(now)
        if not self.stopping:
            if self._controls_waiting and not self._backlog:
                self._controls_waiting = False
                self._take_controls(now)
            while self._heap and self._heap[0][0] <= now:
                when, _, name = heapq.heappop(self._heap)
                if self._event.get(name) == when:
                    self._event[name] = None
                    self._touched.add(name)
            for name in sorted(self._touched):
                rt = self.jobs.get(name)
                if rt is not None and name in self.job_file.jobs:
                    self._service(rt, now)
        self._start_all(now)
        self._flush()

    def next_wakeup(self) -> datetime | None:
        """The earliest instant at which ``tick`` has work (None: only an event can wake us)."""
        if self.stopping:
            return None
        while self._heap and self._event.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        planned = self._heap[0][0] if self._heap else None
        retry_at = self._backlog.retry_at
        if self._backlog and retry_at is not None:
            return min(planned or retry_at, retry_at)
        return planned

    @property
    def degraded(self) -> str | None:
        """What the runner cannot do right now (state writes failing), or None."""
        return self._backlog.degraded

    def _write(self, what: str, write: Callable[[], object]) -> None:
        self._backlog.write(what, write)

    def _degrade(self, what: str, exc: StateError) -> None:
        self._backlog.failed(what, exc)

    def _replan(self, name: str) -> None:
        rt = self.jobs.get(name)
        when = self._next_event(rt) if rt is not None else None
        if self._event.get(name) == when:
            return
        self._event[name] = when
        if when is not None:
            self._seq += 1
            heapq.heappush(self._heap, (when, self._seq, name))

    def controls_arrived(self) -> None:
        """A command wrote a control; the next tick reads them (and only then: no polling)."""
        self._controls_waiting = True

    def wake(self) -> None:
        """Commands changed the state (pause, resume): reread what they may write."""
        now = self.clock.now()
        try:
            states = self.store.job_states()
        except StateError as exc:
            self._degrade("read pauses", exc)
            return
        for name, stored in states.items():
            rt = self.jobs.get(name)
            if rt is None:
                continue
            was_paused = self._paused(rt, now)
            rt.state = replace(rt.state, paused=stored.paused, paused_until=stored.paused_until)
            if was_paused and not self._paused(rt, now):
                self._resumed(rt, now)
            self._touched.add(name)
        self._flush()

    # -- adoption --------------------------------------------------------------------------------
    def _adopt(self, job_file: JobFile, now: datetime) -> None:
        stored = self.store.job_states()
        for name, job in job_file.jobs.items():
            rt = self.jobs.get(name)
            state = rt.state if rt is not None else stored.get(name)
            shown = (
                job.schedule.text,
                str(job.timezone),
                job.command if isinstance(job.command, str) else " ".join(job.command),
            )
            # replace() costs ~7 us; with 10,000 jobs, build or copy a state only when needed
            if state is None:
                schedule, timezone, command = shown
                state = JobState(
                    name=name,
                    first_seen=now,
                    cursor=now,
                    schedule=schedule,
                    timezone=timezone,
                    command=command,
                )
            elif (
                state.cursor is None
                or not state.present
                or (state.schedule, state.timezone, state.command) != shown
            ):
                state = replace(
                    state,
                    cursor=state.cursor or now,
                    schedule=shown[0],
                    timezone=shown[1],
                    command=shown[2],
                    present=True,
                )
            if rt is None:
                rt = _JobRuntime(job=job, state=state, live_from=self._live_since)
                self.jobs[name] = rt
            else:
                rt.job = job
                rt.state = state
            self._dirty.add(name)  # the flush plans it and puts it on the heap
        for name, rt in list(self.jobs.items()):
            if name not in job_file.jobs:
                rt.state = replace(rt.state, present=False, next_run_at=None)
                self._dirty.add(name)
                if not rt.running:
                    del self.jobs[name]
        gone = [
            replace(state, present=False, next_run_at=None)
            for name, state in stored.items()
            if name not in job_file.jobs and state.present and name not in self.jobs
        ]
        if gone:
            self.store.save_job_states(gone)

    def _fire_reboot_jobs(self, now: datetime) -> None:
        if self.boot_id is None:
            return
        for rt in self.jobs.values():
            if not rt.job.schedule.is_reboot or not rt.job.enabled:
                continue
            if rt.state.boot_id == self.boot_id:
                continue
            rt.state = replace(rt.state, boot_id=self.boot_id)
            self._dirty.add(rt.job.name)
            self._launch(rt, self.boot_time or now, Trigger.REBOOT, 1, now)

    # -- clock -----------------------------------------------------------------------------------
    def _detect_suspend(self, now: datetime) -> None:
        """The machine slept when boot time moved on more than monotonic time: what fell due while
        it slept was missed, not late. A wall-clock step alone (NTP) is neither."""
        mono, boot = self.clock.monotonic(), self.clock.boottime()
        if self._last_clock is not None:
            _, mono0, boot0 = self._last_clock
            slept = (boot - boot0) - (mono - mono0)
            if slept > 1.0:
                awake_since = now - timedelta(seconds=mono - mono0)
                self._live_since = max(self._live_since or awake_since, awake_since)
                self._gap_reason = "machine was asleep"
                self._touched.update(self.jobs)
                self.log("suspended", seconds=round(slept, 3), awake_since=awake_since.isoformat())
        self._last_clock = (now, mono, boot)

    # -- one job ---------------------------------------------------------------------------------
    def _paused(self, rt: _JobRuntime, now: datetime) -> bool:
        return rt.state.is_paused(now)

    def _holds_while_paused(self, rt: _JobRuntime) -> bool:
        """Catch-up jobs hold occurrences while paused; their missed policy decides on resume."""
        return rt.job.missed is not Missed.SKIP

    def _resumed(self, rt: _JobRuntime, now: datetime) -> None:
        if self._holds_while_paused(rt):
            rt.live_from = now
        self.log("resumed", job=rt.job.name)

    def _service(self, rt: _JobRuntime, now: datetime) -> None:
        st = rt.state
        if st.paused and st.paused_until is not None and st.paused_until <= now:
            self._write("pause expiry", lambda: self.store.set_paused([rt.job.name], False, None))
            rt.state = replace(st, paused=False, paused_until=None)
            self._resumed(rt, now)
        st = rt.state
        if st.retry_at is not None and st.retry_at <= now and st.retry_scheduled_at is not None:
            rt.pending.append(_Pending(st.retry_scheduled_at, Trigger.RETRY, st.retry_attempt))
            rt.state = replace(st, retry_at=None)
            self._dirty.add(rt.job.name)
        self._occurrences(rt, now)
        self._release_pending(rt, now)

    def _exhausted(self, rt: _JobRuntime) -> bool:
        runs = rt.state.run_count + rt.starting
        return rt.job.max_runs is not None and runs >= rt.job.max_runs

    def _next_occurrence(self, rt: _JobRuntime, after: datetime) -> datetime | None:
        return rt.job.schedule.next_after(after, anchor=rt.state.first_seen)

    def _occurrences(self, rt: _JobRuntime, now: datetime) -> None:
        job = rt.job
        if not job.enabled or self._exhausted(rt):
            return
        if self._paused(rt, now) and self._holds_while_paused(rt):
            return
        cursor = rt.state.cursor or now
        boundary = max(t for t in (self._live_since, rt.live_from, cursor) if t is not None)
        if cursor < boundary:
            missed_end = min(boundary - _TINY, now)
            self._missed(rt, cursor, missed_end, now)
            cursor = rt.state.cursor or missed_end
        handled = 0
        occurrence = self._next_occurrence(rt, cursor)
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
                self._set_cursor(rt, now)
                return
            self._due(rt, occurrence, now)
            cursor = occurrence
            handled += 1
            if self._exhausted(rt):
                break
            occurrence = self._next_occurrence(rt, cursor)

    def _set_cursor(self, rt: _JobRuntime, cursor: datetime) -> None:
        if rt.state.cursor is None or cursor > rt.state.cursor:
            rt.state = replace(rt.state, cursor=cursor)
            self._dirty.add(rt.job.name)

    def _missed_reason(self, rt: _JobRuntime) -> str:
        if (
            rt.live_from is not None
            and self._live_since is not None
            and rt.live_from > self._live_since
        ):
            return "job was paused"
        return self._gap_reason

    def _missed(self, rt: _JobRuntime, start: datetime, end: datetime, now: datetime) -> None:
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
                _Pending(catch_up.scheduled_at, Trigger.CATCH_UP, not_before=catch_up.not_before)
            )
        if plan.starts:
            self.log(
                "catch-up",
                job=rt.job.name,
                starts=len(plan.starts),
                first=plan.starts[0].scheduled_at.isoformat(),
            )
        self._set_cursor(rt, plan.cursor)

    def _record_missed(self, rt: _JobRuntime, record: missed.MissedRecord, now: datetime) -> None:
        self._record(
            rt,
            Status.MISSED,
            record.scheduled_at,
            now,
            record.reason,
            missed_count=record.count,
            cursor=record.cursor,
        )
        self.log("missed", job=rt.job.name, count=record.count, reason=record.reason)

    def _due(self, rt: _JobRuntime, occurrence: datetime, now: datetime) -> None:
        """A regular occurrence is due; late if the runner was busy, which never makes it missed."""
        job = rt.job
        self._set_cursor(rt, occurrence)
        if self._paused(rt, now):
            self._record(rt, Status.SKIPPED, occurrence, now, SkipReason.PAUSED)
            return
        if job.window is not None and not job.window.allows(occurrence.astimezone(job.timezone)):
            self._record(rt, Status.SKIPPED, occurrence, now, SkipReason.WINDOW)
            return
        self._start_or_overlap(rt, _Pending(occurrence, Trigger.SCHEDULE), now)

    def _start_or_overlap(self, rt: _JobRuntime, start: _Pending, now: datetime) -> bool:
        """Start now, or apply the overlap policy if the job is busy. True: it starts this tick."""
        busy = bool(rt.running) or bool(rt.pending) or rt.starting > 0
        policy = rt.job.overlap
        if not busy or policy is Overlap.ALLOW:
            return self._launch(
                rt, start.scheduled_at, start.trigger, start.attempt, now, start.control_id
            )
        if policy is Overlap.FORBID:
            self._record(
                rt,
                Status.SKIPPED,
                start.scheduled_at,
                now,
                SkipReason.OVERLAP,
                trigger=start.trigger,
            )
            return False
        if policy is Overlap.QUEUE:
            if any(
                p.trigger in (Trigger.SCHEDULE, Trigger.MANUAL, Trigger.AFTER) for p in rt.pending
            ):
                self._record(
                    rt,
                    Status.SKIPPED,
                    start.scheduled_at,
                    now,
                    f"{SkipReason.OVERLAP}: a start is already queued",
                    trigger=start.trigger,
                )
                return False
            rt.pending.append(start)
            return False
        # replace: stop what runs, start this one once it has ended
        for run_id in list(rt.running):
            self.launcher.stop(run_id, "replaced")
        for dropped in [p for p in rt.pending if p.trigger is not Trigger.RETRY]:
            rt.pending.remove(dropped)
            self._record(
                rt,
                Status.SKIPPED,
                dropped.scheduled_at,
                now,
                f"{SkipReason.OVERLAP}: replaced by a newer start",
                trigger=dropped.trigger,
            )
        rt.pending.append(start)
        return False

    def _release_pending(self, rt: _JobRuntime, now: datetime) -> None:
        """Start queued, replayed, caught-up and retried runs one at a time, in order."""
        while rt.pending and not rt.running and not rt.starting and not self.stopping:
            head = rt.pending[0]
            if head.not_before is not None and head.not_before > now:
                return
            rt.pending.popleft()
            self._launch(rt, head.scheduled_at, head.trigger, head.attempt, now, head.control_id)

    def _next_event(self, rt: _JobRuntime) -> datetime | None:
        times: list[datetime] = []
        st, job = rt.state, rt.job
        if st.paused and st.paused_until is not None:
            times.append(st.paused_until)
        if st.retry_at is not None:
            times.append(st.retry_at)
        if rt.pending and not rt.running and rt.pending[0].not_before is not None:
            times.append(rt.pending[0].not_before)
        held = st.paused and st.paused_until is None and self._holds_while_paused(rt)
        if job.enabled and not self._exhausted(rt) and not held and job.name in self.job_file.jobs:
            occurrence = rt.state.next_run_at
            if occurrence is not None:
                times.append(occurrence + jitter_offset(job, occurrence))
        return min(times, default=None)

    # -- starting and recording ------------------------------------------------------------------
    def _record(
        self,
        rt: _JobRuntime,
        status: Status,
        scheduled_at: datetime,
        now: datetime,
        reason: str,
        *,
        missed_count: int | None = None,
        trigger: Trigger = Trigger.SCHEDULE,
        cursor: datetime | None = None,
    ) -> None:
        """Record an occurrence that did not start. ``cursor``: what this record accounts for
        (by default a skipped scheduled occurrence itself), saved in the same write."""
        name = rt.job.name
        if cursor is None and status is Status.SKIPPED and trigger is Trigger.SCHEDULE:
            cursor = scheduled_at

        def write() -> None:
            self.store.record(
                job=name,
                status=status,
                trigger=trigger,
                scheduled_at=scheduled_at,
                at=now,
                host=self.host,
                runner_id=self.runner_id,
                reason=str(reason),
                missed_count=missed_count,
                cursor=cursor,
            )

        self._write(str(status), write)
        if status is Status.SKIPPED:
            self.log("skipped", job=name, scheduled_at=scheduled_at.isoformat(), reason=str(reason))

    def _launch(
        self,
        rt: _JobRuntime,
        scheduled_at: datetime,
        trigger: Trigger,
        attempt: int,
        now: datetime,
        control_id: int | None = None,
    ) -> bool:
        """Start this at the end of the tick, claimed with every other start of the tick in one
        transaction (a burst of 200 due jobs pays one commit, not 200). Until then the job
        counts as busy. False when the runner is stopping."""
        if self.stopping:
            return False
        rt.starting += 1
        self._starting.append(_Start(rt, scheduled_at, trigger, attempt, control_id))
        return True

    def _start_all(self, now: datetime) -> None:
        """Claim every start of this tick, then spawn the claimed ones, in order."""
        while self._starting:
            batch, self._starting = self._starting, []
            claimed = self.clock.now()  # each run's real start goes in with its pid
            try:
                if self._backlog:
                    raise StateError("earlier state writes are still pending")
                run_ids = self.store.claim_runs(
                    [
                        Claim(
                            job=s.rt.job.name,
                            scheduled_at=s.scheduled_at,
                            trigger=s.trigger,
                            attempt=s.attempt,
                            started_at=claimed,
                            host=self.host,
                            runner_id=self.runner_id,
                            # a scheduled occurrence is handled once claimed, even if we die next
                            cursor=s.scheduled_at if s.trigger in _CURSOR_TRIGGERS else None,
                        )
                        for s in batch
                    ]
                )
            except StateError as exc:
                # No claim, no start: that is what keeps "exactly once". Try again shortly;
                # the runs start late (lateness recorded) once the store takes writes again.
                if not self._backlog:
                    self._degrade("claim", exc)
                retry_at = self._backlog.retry_at or now + RETRY_EVERY
                for s in reversed(batch):
                    s.rt.starting -= 1
                    s.rt.pending.appendleft(
                        _Pending(s.scheduled_at, s.trigger, s.attempt, retry_at, s.control_id)
                    )
                    self._touched.add(s.rt.job.name)
                return
            faults.point("after-claim")
            for s, run_id in zip(batch, run_ids, strict=True):
                s.rt.starting -= 1
                self._spawn(s, run_id, now)

    def _spawn(self, s: _Start, run_id: int | None, now: datetime) -> None:
        rt, job = s.rt, s.rt.job
        self._touched.add(job.name)
        if s.control_id is not None:
            said = "started" if run_id else "already claimed"
            self._complete(s.control_id, now, run_id=run_id, result=said)
        if run_id is None:
            self.log("already-claimed", job=job.name, scheduled_at=s.scheduled_at.isoformat())
            return
        rt.state = replace(rt.state, run_count=rt.state.run_count + 1, last_run_id=run_id)
        self._dirty.add(job.name)
        log_dir = self.logs_dir / job.name
        if job.name not in self._log_dirs:
            # if this fails the launcher cannot create the log either: a spawn_error saying why
            with contextlib.suppress(OSError):
                log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._log_dirs.add(job.name)
        log_path = log_dir / f"{run_id}.log"
        started = self.clock.now()  # later than the claim for all but the first of a burst
        result = self.launcher.start(
            LaunchRequest(
                run_id=run_id,
                job=job,
                scheduled_at=s.scheduled_at,
                attempt=s.attempt,
                log_path=log_path,
                extra_env={**self.run_env, "CRONPY_TRIGGER": str(s.trigger)},
            )
        )
        active = _Active(run_id, s.scheduled_at, s.attempt, s.trigger, started)
        if isinstance(result, Outcome):
            kept = str(log_path) if log_path.exists() else None
            self._write("pid", lambda: self.store.set_pid(run_id, 0, kept))
            self.log("spawn-error", job=job.name, run=run_id, reason=result.reason)
            self._finish(rt, active, result, now)
            return
        faults.point("after-spawn")
        self._pids.append(Spawned(run_id, result, str(log_path), started))
        rt.running[run_id] = active
        self._by_run[run_id] = job.name
        if self.hooks is not None:
            self.hooks.started(job, run_id)
        self.log(
            "start",
            job=job.name,
            run=run_id,
            pid=result,
            trigger=str(s.trigger),
            attempt=s.attempt,
            lateness=round((started - s.scheduled_at).total_seconds(), 3),
        )

    def _collect_outcomes(self, now: datetime) -> None:
        for outcome in self.launcher.drain():
            name = self._by_run.pop(outcome.run_id, None)
            rt = self.jobs.get(name) if name is not None else None
            if rt is None or name is None:
                continue
            active = rt.running.pop(outcome.run_id, None)
            if active is None:
                continue
            self._touched.add(name)
            self._finish(rt, active, outcome, now)
            if name not in self.job_file.jobs and not rt.running:
                del self.jobs[name]

    def _finish(self, rt: _JobRuntime, active: _Active, outcome: Outcome, now: datetime) -> None:
        faults.point("before-finish")
        finish = Finish(
            status=outcome.status,
            ended_at=now,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            output_tail=outcome.output_tail,
            reason=outcome.reason,
        )
        run = Run(
            id=active.run_id,
            job=rt.job.name,
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
        )
        self._write("finish", lambda: self.store.finish_run(run.id, finish))
        self.log(
            "end",
            job=rt.job.name,
            run=run.id,
            status=str(run.status),
            exit_code=run.exit_code,
            duration=run.duration,
        )
        self._after_final(rt, run, now)
        self._prune(rt, now)

    def _after_final(self, rt: _JobRuntime, run: Run, now: datetime) -> None:
        """What follows an ended run: hooks, a retry, dependants (``after``)."""
        job = rt.job
        if run.status is Status.SUCCEEDED:
            self._hook("on_success", job, run)
            if rt.failed_last:
                self._hook("on_recovery", job, run)
            rt.failed_last = False
            for other in self.jobs.values():
                if job.name in other.job.after and not self.stopping:
                    self._start_dependant(other, run, now)
            return
        if not run.status.is_failure:
            return
        self._hook("on_failure", job, run)
        if (
            run.status.retryable
            and run.attempt < job.retry.attempts
            and not self.stopping
            and run.scheduled_at is not None
        ):
            delay = job.retry.delay_before(run.attempt + 1, self.rng)
            rt.state = replace(
                rt.state,
                retry_at=now + timedelta(seconds=delay),
                retry_attempt=run.attempt + 1,
                retry_scheduled_at=run.scheduled_at,
            )
            self._dirty.add(job.name)
            self.log("retry-planned", job=job.name, attempt=run.attempt + 1, delay=round(delay, 3))
            return
        rt.failed_last = True
        if rt.state.retry_at is not None and rt.state.retry_scheduled_at == run.scheduled_at:
            rt.state = replace(rt.state, retry_at=None)
            self._dirty.add(job.name)
        self._hook("on_dead", job, run)

    def _start_dependant(self, rt: _JobRuntime, cause: Run, now: datetime) -> None:
        at = cause.ended_at or now
        if self._paused(rt, now):
            self._record(rt, Status.SKIPPED, at, now, SkipReason.PAUSED, trigger=Trigger.AFTER)
            return
        self._start_or_overlap(rt, _Pending(at, Trigger.AFTER), now)

    def _hook(self, event: str, job: Job, run: Run) -> None:
        if self.hooks is not None:
            self.hooks.fire(event, job, run)

    def _prune(self, rt: _JobRuntime, now: datetime) -> None:
        keep = rt.job.keep
        older = now - timedelta(seconds=keep.age) if keep.age is not None else None
        if self._backlog:
            return  # pruning can wait for a store that takes writes
        try:
            paths = self.store.prune(rt.job.name, keep_runs=keep.runs, older_than=older)
        except StateError as exc:
            self._degrade("prune", exc)
            return
        for path in paths:
            Path(path).unlink(missing_ok=True)

    # -- controls --------------------------------------------------------------------------------
    def _take_controls(self, now: datetime) -> None:
        try:
            controls = self.store.pending_controls()
        except StateError as exc:
            self._controls_waiting = True
            self._degrade("read controls", exc)
            return
        for control in controls:
            self._control(control, now)

    def _control(self, control: Control, now: datetime) -> None:
        kind = control.kind
        if kind is ControlKind.TRIGGER:
            rt = self.jobs.get(control.job or "")
            if rt is not None:
                self._touched.add(rt.job.name)
            if rt is None or rt.job.name not in self.job_file.jobs:
                self._complete(control.id, now, result=f"unknown job {control.job!r}")
                return
            pending = _Pending(control.requested_at, Trigger.MANUAL, control_id=control.id)
            accepted = self._start_or_overlap(rt, pending, now)
            if not accepted and pending not in rt.pending:
                self._complete(control.id, now, result=f"skipped: {rt.job.name} is already running")
            return
        if kind is ControlKind.CANCEL:
            targets = self._cancel_targets(control)
            for run_id in targets:
                self.launcher.stop(run_id, "cancelled")
            self._complete(
                control.id,
                now,
                run_id=targets[0] if len(targets) == 1 else None,
                result=f"cancelling {len(targets)} run(s)" if targets else "not running",
            )
            return
        if kind is ControlKind.RELOAD:
            self._complete(control.id, now, result=self.on_reload())
            return
        self._complete(control.id, now, result="ok")
        self.wake()

    def _complete(
        self, control_id: int, now: datetime, *, run_id: int | None = None, result: str
    ) -> None:
        self._write(
            "control",
            lambda: self.store.complete_control(control_id, now, run_id=run_id, result=result),
        )

    def _cancel_targets(self, control: Control) -> list[int]:
        if control.run_id is not None:
            return [control.run_id] if control.run_id in self._by_run else []
        rt = self.jobs.get(control.job or "")
        return list(rt.running) if rt is not None else []

    # -- persistence -----------------------------------------------------------------------------
    def _flush(self) -> None:
        """Save job states touched by this tick, with their next planned run, in one transaction,
        and put every job this tick looked at back on the heap."""
        if self._pids:
            pids, self._pids = self._pids, []
            self._write("pids", lambda: self.store.set_pids(pids))
        changed: list[JobState] = []
        for name in self._dirty:
            rt = self.jobs.get(name)
            if rt is None:
                continue
            planned = self._planned(rt)
            if planned != rt.state.next_run_at:
                rt.state = replace(rt.state, next_run_at=planned)
            changed.append(self._durable(rt))
        if changed:
            self._write("job states", lambda: self.store.save_job_states(changed))
        for name in self._dirty | self._touched:
            self._replan(name)
        self._dirty.clear()
        self._touched.clear()

    def _durable(self, rt: _JobRuntime) -> JobState:
        """The state to save: its cursor stops short of an occurrence that is still waiting to
        start (a caught-up, replayed or queued start lives only in memory until its claim),
        so a runner killed meanwhile leaves it to the next one instead of losing it."""
        waiting = [p.scheduled_at for p in rt.pending if p.trigger in _CURSOR_TRIGGERS]
        cursor = rt.state.cursor
        if waiting and cursor is not None and min(waiting) <= cursor:
            return replace(rt.state, cursor=min(waiting) - _TINY)
        return rt.state

    def _planned(self, rt: _JobRuntime) -> datetime | None:
        job = rt.job
        if not job.enabled or self._exhausted(rt) or job.name not in self.job_file.jobs:
            return None
        return self._next_occurrence(rt, rt.state.cursor or self.clock.now())

    def touch(self, names: Iterable[str] | None = None) -> None:
        """Have the next tick look at these jobs (all by default)."""
        self._touched.update(self.jobs if names is None else names)
