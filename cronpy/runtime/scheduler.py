"""The thin layer that applies the engine's decisions against the store, the launcher and the
notifier, and hands the engine what they report back.

It owns every effect of scheduling: reading the clock, writing through the backlog (so a store
that refuses writes never stops the schedule), claiming a batch of starts in one transaction
before any of their commands starts, creating log directories, spawning, pruning log files,
and the fault points of the crash tests. It decides nothing about jobs.

Its ~450-line class applies thirteen kinds of action plus the claims, spawns (or releases of
pre-armed processes, waiting for their instant), control reads and the shared store's
heartbeat; each is a few lines against the store or the launcher, and keeping them in one
place is what makes "effects never decide" checkable in one reading. Which starts to hold
ahead, and when to decide them, is runtime/prearming.py's.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cronpy.engine.actions import (
    CURSOR_TRIGGERS,
    Action,
    Announce,
    AnnounceStart,
    CompleteControl,
    DropRetry,
    ExpirePause,
    FinishRun,
    PlanRetry,
    Prune,
    Record,
    Reload,
    SaveStates,
    Start,
    Stop,
    UpstreamSucceeded,
)
from cronpy.engine.board import Log
from cronpy.engine.engine import Engine
from cronpy.errors import StateError
from cronpy.interfaces import Clock, Launcher, Notifier, Observer, Prearmer, Store
from cronpy.model import (
    Claim,
    Control,
    ControlKind,
    JobFile,
    JobState,
    LaunchRequest,
    Outcome,
    Overlap,
    Spawned,
    Status,
    Trigger,
)
from cronpy.runtime import faults
from cronpy.runtime.backlog import RETRY_EVERY, WriteBacklog
from cronpy.runtime.clock import STALL_AFTER
from cronpy.runtime.fleet import HANDOFF, Fleet
from cronpy.runtime.prearming import Prearming


class Scheduler:
    def __init__(
        self,
        job_file: JobFile,
        store: Store,
        launcher: Launcher,
        clock: Clock,
        *,
        runner_id: int,
        host: str,
        logs_dir: Path,
        notifier: Notifier | None = None,
        boot_id: str | None = None,
        boot_time: datetime | None = None,
        log: Log | None = None,
        rng: random.Random | None = None,
        run_env: Mapping[str, str] | None = None,
        fleet: Fleet | None = None,
        prearmer: Prearmer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.sleep = sleep  # waits for a held instant decided ahead (a fake clock's advance)
        self.stop_requested = stop_requested  # a shutdown signal arrived: start nothing more
        self.prearming: Prearming | None = None
        self.fleet = fleet  # other runners share the store (runtime/fleet.py)
        self.launcher = launcher
        self.clock = clock
        self.notifier = notifier
        self.runner_id = runner_id
        self.host = host
        self.logs_dir = logs_dir
        self.log: Log = log or (lambda event, **fields: None)
        self.run_env = dict(run_env or {})  # given to every run, e.g. CRONPY_STATE_DIR
        self.engine = Engine(
            job_file,
            host=host,
            boot_id=boot_id,
            boot_time=boot_time,
            log=self.log,
            rng=rng,
            shared=fleet is not None,
        )
        if prearmer is not None:  # starts held ahead of their due instant
            self.prearming = Prearming(
                prearmer, self.engine, clock, self.log, run_env, fleet, on_stall=self.stalled
            )
        self.on_degraded: Callable[[str | None], None] = lambda note: None
        self.on_reload: Callable[[], str] = lambda: "reload is not supported here"
        self.observer: Observer | None = None
        self.backlog = WriteBacklog(clock.now, self.log, self._degraded)
        self.controls_waiting = True  # a command may have written controls: read them
        self._log_dirs: set[str] = set()
        # pids of the batch's runs, written in one transaction when it settles: only the
        # claim has to be written before a start
        self._pids: list[Spawned] = []

    @property
    def job_file(self) -> JobFile:
        return self.engine.job_file

    @property
    def degraded(self) -> str | None:
        """What the runner cannot do right now (state writes failing), or None."""
        return self.backlog.degraded

    # -- driving the engine ----------------------------------------------------------------------
    def start(self) -> None:
        """Take over the state: adopt the jobs, mark what a dead runner left ``lost``."""
        now = self.clock.now()
        stored = self.store.job_states()
        joined = False
        if self.fleet is None:  # one runner per store: what is left running was ours
            lost = self.store.mark_lost(now)
        else:  # others may be running theirs: only what their leases no longer cover
            lost = self.store.mark_lost(now, expired_before=now)
            self.fleet.start(now)
            joined = self.fleet.others_up()
        self.engine.start(
            now,
            monotonic=self.clock.monotonic(),
            boottime=self.clock.boottime(),
            stored=stored,
            lost=lost,
            joined=joined,
        )
        self._settle(now)

    def tick(self) -> None:
        now = self.clock.now()
        if self.backlog.due(now):
            self.backlog.replay()
        outcomes = self.launcher.drain()
        controls, pauses = self._read_controls()
        # within LEAD of a held instant the engine decides as of that instant, all three
        # clocks moved alike; nothing starts before it (_start waits, as does the end here)
        ahead = timedelta(0) if self.prearming is None else self.prearming.ahead(now)
        lead = ahead.total_seconds()
        now += ahead
        self.engine.tick(
            now,
            monotonic=self.clock.monotonic() + lead,
            boottime=self.clock.boottime() + lead,
            outcomes=outcomes,
            controls=controls,
            pauses=pauses,
        )
        self._settle(now)
        self._wait_for(now)  # no later call may hand the engine an earlier time

    def _wait_for(self, instant: datetime) -> None:
        if (left := (instant - self.clock.now()).total_seconds()) > 0:
            before = self.clock.monotonic()
            self.sleep(left)
            # a SIGSTOP during this wait is a stall, as one in the loop's select is
            if (overslept := self.clock.monotonic() - before - left) > STALL_AFTER:
                self.stalled(overslept)

    def reload(self, job_file: JobFile) -> None:
        now = self.clock.now()
        self.engine.reload(job_file, self.store.job_states(), now)
        self._settle(now)

    def wake(self) -> None:
        """Commands changed the state (pause, resume): reread what they may write."""
        try:
            states = self.store.job_states()
        except StateError as exc:
            self.backlog.failed("read pauses", exc)
            return
        now = self.clock.now()
        self.engine.pauses_changed(states, now)
        self._settle(now)

    def begin_shutdown(self) -> None:
        self.engine.begin_shutdown()

    def controls_arrived(self) -> None:
        """A command wrote a control; the next tick reads them (and only then: no polling)."""
        self.controls_waiting = True

    def touch(self, names: Iterable[str] | None = None) -> None:
        self.engine.touch(names)

    def stalled(self, seconds: float) -> None:
        """The loop woke ``seconds`` later than it asked to (the process was stopped or
        starved): let the engine apply the missed policy to what fell due meanwhile."""
        self.engine.stalled(self.clock.now(), seconds)

    def heartbeat(self) -> None:
        """With a shared store, every HEARTBEAT seconds: renew this runner's leases, stop any
        run another runner has marked lost (or all of them when the leases could not be
        renewed for a whole lease), and follow up the runs of runners that died."""
        assert self.fleet is not None
        now = self.clock.now()
        try:
            held, lost = self.fleet.beat(now, self.degraded)
        except StateError as exc:
            self.backlog.failed("heartbeat", exc)
            if self.fleet.lease_expired(now) and self.launcher.running:
                # its runs may be retried elsewhere now: kill them rather than finish unseen
                self.log("lease-expired", running=len(self.launcher.running))
                for run_id in list(self.launcher.running):
                    self.launcher.stop(run_id, "lease expired: the runner lost the store")
            return
        for run_id in [r for r in self.launcher.running if r not in held]:
            self.log("lease-lost", run=run_id)
            self.launcher.stop(run_id, "lease lost: another runner marked this run lost")
        if not self.backlog:  # (a run whose end is still queued is held, and not running)
            # claims whose commit this runner never heard of (the server went away as it
            # answered): nothing runs them, so they must not hold a lease forever
            unknown = sorted(held - set(self.launcher.running))
            if unknown:
                self.log("claims-unheard", runs=unknown)
                lost = [*lost, *self.store.mark_lost(now, run_ids=unknown)]
        if lost:
            self.engine.lost(lost, now)
        try:  # retries other runners planned: a dead planner's are ours to start too
            self.engine.retries_seen(self.store.pending_retries())
        except StateError as exc:
            self.backlog.failed("read retries", exc)
        self._settle(now)

    def next_wakeup(self) -> datetime | None:
        planned = self.engine.next_wakeup()
        if self.prearming is not None and (decide := self.prearming.decide_at()) is not None:
            planned = decide if planned is None else min(planned, decide)
        retry_at = self.backlog.retry_at
        if self.backlog and retry_at is not None:
            return min(planned or retry_at, retry_at)
        return planned

    def next_arm(self) -> datetime | None:
        """When to wake to pre-arm the next due instant's starts (None: nothing to arm)."""
        return None if self.prearming is None else self.prearming.next_arm()

    def _degraded(self, note: str | None) -> None:
        if self.observer is not None:
            self.observer.set_degraded(note)
        self.on_degraded(note)

    # -- applying decisions ----------------------------------------------------------------------
    def _settle(self, now: datetime) -> None:
        self._apply_all(now)
        if self._pids:
            pids, self._pids = self._pids, []
            self._write("pids", lambda: self.store.set_pids(pids))
        self.engine.settle(now)
        self._apply_all(now)
        if self.prearming is not None:
            self.prearming.after_batch(now)

    def _apply_all(self, now: datetime) -> None:
        """Apply decisions in order; the starts of each batch are claimed together, last.
        What the claims and spawns report back may decide more: loop until nothing is left."""
        while actions := self.engine.take():
            starts: list[Start] = []
            for action in actions:
                if isinstance(action, Start):
                    starts.append(action)
                else:
                    self._apply(action)
            if starts:
                self._start(starts, now)

    def _apply(self, action: Action) -> None:
        store = self.store
        match action:
            case Record():
                self._write(str(action.status), lambda: self._record(action))
                if self.observer is not None:
                    self.observer.recorded(action.job, action.status)
            case FinishRun(run=run, finish=finish):
                faults.point("before-finish")
                self._write("finish", lambda: store.finish_run(run.id, finish))
                if self.observer is not None:
                    self.observer.finished(run)
            case Stop(run_id=run_id, reason=reason):
                self.launcher.stop(run_id, reason)
            case Announce(event=event, job=job, run=run):
                if self.notifier is not None:
                    self.notifier.fire(event, job, run)
            case AnnounceStart(job=job, run_id=run_id):
                if self.notifier is not None:
                    self.notifier.started(job, run_id)
            case ExpirePause(job=name):
                self._write("pause expiry", lambda: store.set_paused([name], False, None))
            case Prune():
                self._prune(action)
            case CompleteControl():
                self._complete(action.control_id, action.at, action.result, action.run_id)
            case Reload(control_id=control_id, at=at, answer=answer):
                result = self.on_reload()
                if answer:
                    self._complete(control_id, at, result, None)
            case PlanRetry(job=name, retry=retry):
                self._write("retry", lambda: store.plan_retry(name, retry))
            case DropRetry(job=name, scheduled_at=due, attempt=attempt):
                self._write("retry", lambda: store.drop_retry(name, due, attempt))
            case UpstreamSucceeded():
                self._upstream(action)
            case SaveStates(states=states):
                self._write("job states", lambda: store.save_job_states(states))
                if self.observer is not None:
                    self.observer.states(states)

    def _upstream(self, action: UpstreamSucceeded) -> None:
        """Count an upstream success in the store, where every runner's are counted; the
        answer decides whether this runner starts the job. A store refusing writes queues the
        count with the other writes: the job starts late once it is counted, like a claim."""

        def count() -> None:
            waiting = self.store.upstream_succeeded(action.job, action.upstream, action.needed)
            self.engine.upstream_answer(action, waiting, self.clock.now())

        self.backlog.write("after", count)

    def _record(self, r: Record) -> None:
        self.store.record(
            job=r.job,
            status=r.status,
            trigger=r.trigger,
            scheduled_at=r.scheduled_at,
            at=r.at,
            host=self.host,
            runner_id=self.runner_id,
            reason=r.reason,
            missed_count=r.missed_count,
            attempt=r.attempt,
            cursor=r.cursor,
        )

    def _complete(self, control_id: int, at: datetime, result: str, run_id: int | None) -> None:
        self._write(
            "control",
            lambda: self.store.complete_control(control_id, at, run_id=run_id, result=result),
        )

    def _prune(self, prune: Prune) -> None:
        if self.backlog:
            return  # pruning can wait for a store that takes writes
        try:
            paths = self.store.prune(
                prune.job, keep_runs=prune.keep_runs, older_than=prune.older_than
            )
        except StateError as exc:
            self.backlog.failed("prune", exc)
            return
        for path in paths:
            Path(path).unlink(missing_ok=True)

    def _start(self, starts: Sequence[Start], now: datetime) -> None:
        """Claim every start of the batch in one transaction, then spawn the claimed ones
        (at ``now``: a held instant is decided and claimed ahead of it)."""
        claimed_at = max(self.clock.now(), now)
        lease_until = None
        if self.fleet is not None:
            fleet = self.fleet
            ours = [fleet.preferred(s) for s in starts]
            if not all(ours):  # a peer's to claim first; ours if still free after the handoff
                later = [s for s, mine in zip(starts, ours, strict=True) if not mine]
                self.engine.claims_deferred(later, now + HANDOFF)
                starts = [s for s, mine in zip(starts, ours, strict=True) if mine]
                if not starts:
                    return
            lease_until = fleet.lease_until(claimed_at)
        try:
            if self.backlog:
                raise StateError("earlier state writes are still pending")
            run_ids = self.store.claim_runs(
                [
                    Claim(
                        job=s.job.name,
                        scheduled_at=s.scheduled_at,
                        trigger=s.trigger,
                        attempt=s.attempt,
                        started_at=claimed_at,
                        host=self.host,
                        runner_id=self.runner_id,
                        cursor=s.cursor,
                        lease_until=lease_until,
                        # a trigger is an explicit request: it runs whatever the count
                        max_runs=None if s.trigger is Trigger.MANUAL else s.job.max_runs,
                        # forbid holds across runners sharing the store (one runner: in memory)
                        exclusive=self.fleet is not None
                        and s.job.overlap is Overlap.FORBID
                        and s.trigger in CURSOR_TRIGGERS,
                    )
                    for s in starts
                ]
            )
        except StateError as exc:
            if not self.backlog:
                self.backlog.failed("claim", exc)
            retry_at = self.backlog.retry_at or now + RETRY_EVERY
            self.engine.claims_refused(starts, retry_at, now)
            return
        faults.point("after-claim")
        go = [
            (start, self._request(start, run_id))
            for start, run_id in zip(starts, run_ids, strict=True)
            if self.engine.claimed(start, run_id, now) and run_id is not None
        ]

        def until_due() -> bool:  # nothing starts before its instant, nor after a stop signal
            self._wait_for(now)
            return not self.stop_requested()

        released: dict[int, int] | None = {}
        if self.prearming is not None and go:  # their held processes run their commands now
            released = self.prearming.prearmer.release([req for _, req in go], until_due)
        elif not until_due():
            released = None
        released_at = self.clock.now()
        if released is None:
            for start, req in go:  # claimed, never started: ended as a shutdown ends runs
                self.engine.spawned(start, req.run_id, self._stopped(req), released_at, now)
            return
        for start, req in go:
            pid = released.get(req.run_id)
            self._spawn(start, req, now, (pid, released_at) if pid is not None else None)

    def _stopped(self, req: LaunchRequest) -> Outcome:
        reason = "shutdown: the runner was stopping at the due instant; the command never ran"
        return Outcome(req.run_id, Status.CANCELLED, None, None, "", reason, None, 0.0)

    def _request(self, start: Start, run_id: int) -> LaunchRequest:
        job = start.job
        log_dir = self.logs_dir / job.name
        if job.name not in self._log_dirs:
            # if this fails the launcher cannot create the log either: a spawn_error saying why
            with contextlib.suppress(OSError):
                log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._log_dirs.add(job.name)
        return LaunchRequest(
            run_id=run_id,
            job=job,
            scheduled_at=start.scheduled_at,
            attempt=start.attempt,
            log_path=log_dir / f"{run_id}.log",
            extra_env={**self.run_env, "CRONPY_TRIGGER": str(start.trigger)},
        )

    def _spawn(
        self,
        start: Start,
        req: LaunchRequest,
        now: datetime,
        released: tuple[int, datetime] | None,
    ) -> None:
        """Start the claimed run, or record the release of its held process (pid, when)."""
        job, run_id, log_path = start.job, req.run_id, req.log_path
        result: int | Outcome
        if released is not None:
            result, started = released  # started_at is the release, not the arm
        else:
            started = self.clock.now()  # later than the claim for all but the first of a batch
            result = self.launcher.start(req)
        if isinstance(result, Outcome):
            kept = str(log_path) if log_path.exists() else None
            self._write("pid", lambda: self.store.set_pid(run_id, 0, kept))
        else:
            faults.point("after-spawn")
            self._pids.append(Spawned(run_id, result, str(log_path), started))
            if self.observer is not None:
                self.observer.started(job.name, run_id, start.trigger, start.scheduled_at, started)
        self.engine.spawned(start, run_id, result, started, now)

    def _read_controls(self) -> tuple[list[Control], Mapping[str, JobState] | None]:
        """Pending controls, when a command said there are some and the store is writable
        (their answers must be written), with the pause states when one is a WAKE."""
        if self.engine.stopping or not self.controls_waiting or self.backlog:
            return [], None
        self.controls_waiting = False
        try:
            if self.fleet is not None:
                controls = self.fleet.new_controls()
            else:
                controls = self.store.pending_controls()
        except StateError as exc:
            self.controls_waiting = True
            self.backlog.failed("read controls", exc)
            return [], None
        pauses = None
        if any(c.kind is ControlKind.WAKE for c in controls):
            try:
                pauses = self.store.job_states()
            except StateError as exc:
                self.backlog.failed("read pauses", exc)
        return controls, pauses

    def _write(self, what: str, write: Callable[[], object]) -> None:
        self.backlog.write(what, write)
