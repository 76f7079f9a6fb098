"""The runner's decisions: which occurrence is due, missed, skipped or started, and what next.

``Engine`` never sleeps, reads a clock, touches a file or calls the store: it is handed the
time and whatever the store and the launcher reported, and answers with actions in its
outbox (``take()``) for ``cronpy.runtime.scheduler`` to apply. Tests drive it with a fake
clock through hours of simulated time in milliseconds.

Invariants it keeps:
- every occurrence leaves exactly one record (a run, or a skipped/missed record saying why not);
- a start is an action that the applier claims in the store (one atomic write) before its
  command starts; a claim that already exists is never started again;
- ``cursor`` (per job) is the latest occurrence already handled; planning is relative to it,
  never to "now", so a wall clock stepping backwards cannot repeat a run.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from cronpy.engine.actions import Action, AnnounceStart, SaveStates, Start, UpstreamSucceeded
from cronpy.engine.adopt import adopt
from cronpy.engine.board import Board, Log
from cronpy.engine.controls import Controls
from cronpy.engine.jobs import Active, JobRuntime, Pending
from cronpy.engine.missed import jitter_offset
from cronpy.engine.occurrences import Occurrences
from cronpy.engine.outcomes import Outcomes
from cronpy.engine.plan import Planner, durable, with_next_run
from cronpy.model import (
    Control,
    ControlKind,
    Job,
    JobFile,
    JobState,
    Outcome,
    Overlap,
    RetryDue,
    Run,
    Status,
    Trigger,
)
from cronpy.model.durations import format_duration


class Engine:
    def __init__(
        self,
        job_file: JobFile,
        *,
        host: str,
        boot_id: str | None = None,
        boot_time: datetime | None = None,
        log: Log | None = None,
        rng: random.Random | None = None,
        shared: bool = False,
    ) -> None:
        self.board = Board(job_file, log or (lambda event, **fields: None), shared=shared)
        self.occurrences = Occurrences(self.board)
        self.outcomes = Outcomes(self.board, self.occurrences, host, rng or random.Random())
        self.controls = Controls(self.board, self.occurrences)
        self.planner = Planner(self.board)
        self.boot_id = boot_id
        self.boot_time = boot_time
        self._last_clock: tuple[float, float] | None = None  # monotonic, boottime
        self._inflight: dict[Start, JobRuntime] = {}  # starts decided, not yet claimed

    @property
    def job_file(self) -> JobFile:
        return self.board.job_file

    @property
    def stopping(self) -> bool:
        return self.board.stopping

    def take(self) -> list[Action]:
        """The decisions made since the last call, in order."""
        actions, self.board.outbox = self.board.outbox, []
        for action in actions:
            if isinstance(action, Start):
                self._inflight[action] = self.board.jobs[action.job.name]
        return actions

    # -- lifecycle -------------------------------------------------------------------------------
    def start(
        self,
        now: datetime,
        *,
        monotonic: float,
        boottime: float,
        stored: Mapping[str, JobState],
        lost: Sequence[Run] = (),
        joined: bool = False,
    ) -> None:
        """Take over the state: adopt the jobs, follow up runs a dead runner left (``lost``),
        fire @reboot jobs. ``joined``: other runners sharing the store are up and handled
        everything due until now; nothing was missed, and this runner starts from now."""
        self.board.live_since = now
        self._last_clock = (monotonic, boottime)
        adopt(self.board, self.job_file, stored, now)
        if joined:
            for rt in self.board.jobs.values():
                self.board.set_cursor(rt, now)
        self.lost(lost, now)
        if self.boot_id is not None:
            for rt in self.board.jobs.values():
                job = rt.job
                if job.schedule.is_reboot and job.enabled and rt.state.boot_id != self.boot_id:
                    self.board.update(rt, boot_id=self.boot_id)
                    self.board.launch(rt, self.boot_time or now, Trigger.REBOOT)

    def lost(self, runs: Sequence[Run], now: datetime) -> None:
        """Runs whose runner died (found at start, or by a lease that expired on another
        runner): their retry policy applies here, whichever runner ran them."""
        for run in runs:
            self.board.log("lost", job=run.job, run=run.id, reason=run.reason)
            rt = self.board.jobs.get(run.job)
            if rt is not None:
                self.outcomes.after_final(rt, run, now)

    def reload(self, job_file: JobFile, stored: Mapping[str, JobState], now: datetime) -> None:
        """Swap in a new job file: jobs keep state by name; running runs go on undisturbed."""
        old = set(self.board.jobs)
        self.board.job_file = job_file
        adopt(self.board, job_file, stored, now)
        self.board.log(
            "reloaded",
            jobs=len(job_file.jobs),
            added=sorted(set(job_file.jobs) - old),
            removed=sorted(old - set(job_file.jobs)),
        )

    def begin_shutdown(self) -> None:
        """Start nothing more. Starts still waiting stay unclaimed: the saved cursor stops
        short of them (see ``plan.durable``), so the next runner applies the missed policy."""
        self.board.stopping = True

    # -- the tick --------------------------------------------------------------------------------
    def tick(
        self,
        now: datetime,
        *,
        monotonic: float,
        boottime: float,
        outcomes: Iterable[Outcome] = (),
        controls: Iterable[Control] = (),
        pauses: Mapping[str, JobState] | None = None,
        lost: Sequence[Run] = (),
    ) -> None:
        """Decide everything due at ``now``: ended runs, requests from commands (``pauses``
        are the stored pause states read with a WAKE control), and due occurrences."""
        board = self.board
        self._detect_suspend(now, monotonic, boottime)
        if lost:
            self.lost(lost, now)
        for outcome in outcomes:
            self._ended(outcome, now)
        if board.stopping:
            return
        for control in controls:
            self.controls.handle(control, now)
            if control.kind is ControlKind.WAKE and pauses is not None:
                self.pauses_changed(pauses, now)
        board.touched.update(self.planner.pop_due(now))
        for name in sorted(board.touched):
            rt = board.jobs.get(name)
            if rt is not None and board.current(name):
                self.occurrences.service(rt, now)

    def next_wakeup(self) -> datetime | None:
        """The earliest instant at which ``tick`` has work (None: only an event can wake us)."""
        if self.board.stopping:
            return None
        if self.board.refused_since is not None:
            return self.board.refused_retry_at  # due occurrences wait for the store
        return self.planner.next_wakeup()

    def due_within(self, until: datetime) -> list[tuple[Job, datetime]]:
        """The scheduled occurrences (job, scheduled_at) expected to start at or before
        ``until``, for the runner to pre-arm: a forecast only. What starts is still decided
        by ``tick`` at the due instant; what it does not start, the runner drops."""
        board = self.board
        if board.stopping or board.refused_since is not None:
            return []
        found: list[tuple[Job, datetime]] = []
        for name, when in self.planner.within(until):
            rt = board.jobs.get(name)
            if rt is None or not rt.job.enabled or rt.exhausted() or not board.current(name):
                continue
            if rt.pending or rt.state.retries or rt.paused(when):
                continue
            occurrence = rt.state.next_run_at
            if occurrence is None or when != occurrence + jitter_offset(rt.job, occurrence):
                continue  # planned for a retry, a pause's end, a deadline: not a start
            if rt.running and rt.job.overlap in (Overlap.FORBID, Overlap.QUEUE):
                continue  # it would be skipped or queued
            found.append((rt.job, occurrence))
        return found

    def waits_on_a_run(self, until: datetime) -> bool:
        """Whether a start planned at or before ``until`` depends on a run ending first (its
        job is running under forbid or queue): the runner then decides at the instant, not
        ahead of it, so that a run ending just before its next occurrence does not skip it."""
        board = self.board
        for name, _ in self.planner.within(until):
            rt = board.jobs.get(name)
            if rt is not None and rt.running and rt.job.overlap in (Overlap.FORBID, Overlap.QUEUE):
                return True
        return False

    def stalled(self, now: datetime, seconds: float) -> None:
        """The runner was not running for ``seconds`` (stopped, or starved by the system)
        while it should have been awake: what fell due then was missed, not merely late."""
        self.board.log("stalled", seconds=round(seconds, 3))
        self.board.gap(now, f"runner stalled for {format_duration(seconds)}")

    def touch(self, names: Iterable[str] | None = None) -> None:
        """Have the next tick look at these jobs (all by default)."""
        self.board.touched.update(self.board.jobs if names is None else names)

    def pauses_changed(self, states: Mapping[str, JobState], now: datetime) -> None:
        """Commands changed pauses (``cronpy pause``/``resume``): take the stored ones."""
        for name, stored in states.items():
            rt = self.board.jobs.get(name)
            if rt is None:
                continue
            was_paused = rt.paused(now)
            rt.state = replace(rt.state, paused=stored.paused, paused_until=stored.paused_until)
            if was_paused and not rt.paused(now):
                self.occurrences.resumed(rt, now)
            self.board.touched.add(name)

    # -- what the applier reports back -----------------------------------------------------------
    def claimed(self, start: Start, run_id: int | None, now: datetime) -> bool:
        """The claim of ``start`` was written (``run_id``) or found taken (None). True: start
        its command now."""
        rt = self._inflight[start]
        rt.starting -= 1
        self.board.touched.add(rt.name)
        refused = self.board.refused_since
        if refused is not None:  # the store takes claims again: what fell due meanwhile
            self.board.refused_since = None  # gets the missed policy, saying why
            took = format_duration((now - refused).total_seconds())
            self.board.gap(now, f"the state database refused writes for {took}")
        if start.trigger is Trigger.RETRY:  # its claim now carries it (ours or a peer's)
            self.board.drop_retry(rt, start.scheduled_at, start.attempt)
        if start.control_id is not None and (run_id or not self.board.shared):
            said = "started" if run_id else "already claimed"
            if run_id and not rt.job.enabled:
                said += " (the job is disabled: it runs only when triggered)"
            self.board.complete(start.control_id, now, run_id=run_id, result=said)
        if run_id is None:
            del self._inflight[start]
            self.board.log(
                "already-claimed", job=rt.name, scheduled_at=start.scheduled_at.isoformat()
            )
            return False
        self.board.update(rt, run_count=rt.state.run_count + 1, last_run_id=run_id)
        return True

    def spawned(
        self,
        start: Start,
        run_id: int,
        result: int | Outcome,
        started_at: datetime,
        now: datetime,
    ) -> None:
        """The command of a claimed run started (its pid) or could not (a spawn_error)."""
        rt = self._inflight.pop(start)
        active = Active(run_id, start.scheduled_at, start.attempt, start.trigger, started_at)
        if isinstance(result, Outcome):
            event = "spawn-error" if result.status is Status.SPAWN_ERROR else "not-started"
            self.board.log(event, job=rt.name, run=run_id, reason=result.reason)
            self.outcomes.finish(rt, active, result, now)
            return
        rt.running[run_id] = active
        self.board.by_run[run_id] = rt.name
        if rt.job.max_duration is not None:
            rt.long_due[run_id] = started_at + timedelta(seconds=rt.job.max_duration)
        self.board.emit(AnnounceStart(rt.job, run_id))
        self.board.log(
            "start",
            job=rt.name,
            run=run_id,
            pid=result,
            trigger=str(start.trigger),
            attempt=start.attempt,
            lateness=round((started_at - start.scheduled_at).total_seconds(), 3),
        )

    def claims_deferred(self, starts: Sequence[Start], until: datetime) -> None:
        """These occurrences are another runner's to claim first (work spreading): wait until
        ``until``, then claim them if it has not."""
        for start in reversed(starts):
            rt = self._inflight.pop(start)
            rt.starting -= 1
            rt.pending.appendleft(
                Pending(
                    start.scheduled_at,
                    start.trigger,
                    start.attempt,
                    until,
                    start.control_id,
                    handed=True,
                )
            )
            self.board.touched.add(rt.name)

    def claims_refused(self, starts: Sequence[Start], retry_at: datetime, now: datetime) -> None:
        """The store refused the claims: no claim, no start. They wait and start late (their
        lateness recorded) once it takes writes again; that is what keeps "exactly once".
        Meanwhile no other occurrence is decided (see ``claimed``)."""
        if self.board.refused_since is None:
            self.board.refused_since = now
        self.board.refused_retry_at = retry_at
        for start in reversed(starts):
            rt = self._inflight.pop(start)
            rt.starting -= 1
            rt.pending.appendleft(
                Pending(
                    start.scheduled_at, start.trigger, start.attempt, retry_at, start.control_id
                )
            )
            self.board.touched.add(rt.name)

    def settle(self, now: datetime) -> None:
        """End a batch: save the states it changed, with their next planned run, in one write
        (a state the store has already is not written again), and put every job it looked at
        back on the plan."""
        board = self.board
        changed: list[JobState] = []
        for name in board.dirty:
            rt = board.jobs.get(name)
            if rt is None:
                continue
            planned = self.planner.planned(rt, now)
            if planned != rt.state.next_run_at:
                rt.state = with_next_run(rt.state, planned)
            state = durable(rt)
            if state is not rt.saved:  # a state is never changed in place: a new one is new
                changed.append(state)
                rt.saved = state
        if changed:
            board.emit(SaveStates(tuple(changed)))
        for name in board.dirty | board.touched:
            self.planner.replan(name)
        board.dirty.clear()
        board.touched.clear()

    def upstream_answer(
        self, action: UpstreamSucceeded, waiting: Sequence[str], now: datetime
    ) -> None:
        """The store counted an upstream success (``waiting``: who is still missing): start
        the job if this runner completed the set, else record why not."""
        self.outcomes.upstream_answer(action, waiting, now)

    def retries_seen(self, stored: Mapping[str, tuple[RetryDue, ...]]) -> None:
        """The pending retries the store holds (the heartbeat's sweep): those other runners
        planned, a dead one's included, join ours. Whoever claims an attempt first starts it;
        the others find it claimed and forget it."""
        for name, retries in stored.items():
            rt = self.board.jobs.get(name)
            if rt is None:
                continue
            known = {r.scheduled_at: r for r in rt.state.retries}
            news = [
                r
                for r in retries
                if (had := known.get(r.scheduled_at)) is None or had.attempt < r.attempt
            ]
            if news:
                known.update((r.scheduled_at, r) for r in news)
                merged = tuple(sorted(known.values(), key=lambda r: r.scheduled_at))
                rt.state = replace(rt.state, retries=merged)
                self.board.touched.add(name)

    # -- inside ----------------------------------------------------------------------------------
    def _ended(self, outcome: Outcome, now: datetime) -> None:
        board = self.board
        name = board.by_run.pop(outcome.run_id, None)
        rt = board.jobs.get(name) if name is not None else None
        if rt is None or name is None:
            return
        active = rt.running.pop(outcome.run_id, None)
        rt.long_due.pop(outcome.run_id, None)
        if active is None:
            return
        board.touched.add(name)
        self.outcomes.finish(rt, active, outcome, now)
        if not board.current(name) and not rt.running:
            del board.jobs[name]

    def _detect_suspend(self, now: datetime, mono: float, boot: float) -> None:
        """The machine slept when boot time moved on more than monotonic time: what fell due while
        it slept was missed, not late. A wall-clock step alone (NTP) is neither."""
        board = self.board
        if self._last_clock is not None:
            mono0, boot0 = self._last_clock
            slept = (boot - boot0) - (mono - mono0)
            if slept > 1.0:
                awake_since = now - timedelta(seconds=mono - mono0)
                board.live_since = max(board.live_since or awake_since, awake_since)
                board.gap_reason = "machine was asleep"
                board.touched.update(board.jobs)
                board.log("suspended", seconds=round(slept, 3), awake_since=awake_since.isoformat())
        self._last_clock = (mono, boot)
