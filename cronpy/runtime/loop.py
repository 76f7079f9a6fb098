"""The real-time driver around the ``Scheduler``: lock, store, signals, wake-ups, the loop.

The loop sleeps in ``select`` until the earliest of: the next due instant, a process deadline
(timeout, kill escalation), a child's output or exit, a signal, or a command's wake-up datagram.
There is no periodic timer. Signal handlers only set flags (the wake-up fd interrupts select).
"""

from __future__ import annotations

import gc
import os
import selectors
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy import __version__
from cronpy.config import load_job_file
from cronpy.errors import ConfigError, StateError
from cronpy.launch.launcher import Launcher
from cronpy.launch.leftovers import kill_leftovers
from cronpy.model import JobFile, Smtp
from cronpy.model.run import RELOAD_REJECTED
from cronpy.notify.hooks import JobHooks, log_hook_outcomes
from cronpy.runtime.clock import STALL_AFTER, SystemClock
from cronpy.runtime.daemon import reopen_log
from cronpy.runtime.eventlog import EventLog
from cronpy.runtime.fleet import Fleet, file_hash
from cronpy.runtime.host import boot_identity
from cronpy.runtime.maintenance import Maintenance, interval_from_env

if TYPE_CHECKING:
    from cronpy.runtime.metrics import RunnerMetrics
from cronpy.runtime.peers import PeerLink
from cronpy.runtime.scheduler import Scheduler
from cronpy.runtime.sdnotify import (
    notifying,
    reloading,
    running_status,
    sd_notify,
    watchdog_interval,
)
from cronpy.runtime.signals import Signals
from cronpy.runtime.statedir import (
    RunnerLock,
    logs_dir,
    wake_socket_path,
)
from cronpy.runtime.walltimer import make_wall_timer
from cronpy.store import open_store

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with its terminating NUL


class Runner:
    def __init__(
        self,
        job_file_path: Path,
        job_file: JobFile,
        *,
        state_dir: Path,
        store_url: str | None,
        log: EventLog,
        lock: RunnerLock,
        log_file: Path | None = None,
        metrics: str | None = None,
    ) -> None:
        self.path = job_file_path
        self.state_dir = state_dir
        self.log = log
        self.lock = lock
        self.log_file = log_file  # the daemon's runner.log, reopened on SIGUSR1 and reload
        self.clock = SystemClock()
        self.metrics = self._serve_metrics(metrics or job_file.settings.metrics)
        # A short wait for a lock: a write the runner cannot make is queued and retried, and
        # waiting longer would block the loop (timeouts, output) while another process holds it.
        self.store = open_store(state_dir, store_url, busy_timeout=1.0)
        self.selector = selectors.DefaultSelector()
        # A runner owns its jobs' trees: orphans come back to it, each run gets a cgroup
        # where one can be made, and CRONPY_STATE_DIR is the state dir's real path.
        self.launcher = Launcher(
            self.selector,
            self.clock.monotonic,
            state_dir=state_dir,
            subreaper=True,
            cgroups=job_file.settings.cgroups,
        )
        self.host = socket.gethostname()
        digest = file_hash(job_file_path)
        self.runner_id = self.store.register_runner(
            self.host, os.getpid(), self.clock.now(), file_hash=digest, version=__version__
        )
        # other runners share the store: leases, heartbeats, handoffs and NOTIFY wake-ups
        self.fleet = (
            Fleet(self.store, self.runner_id, file_digest=digest, log=log)
            if self.store.shared
            else None
        )
        boot_id, boot_time = boot_identity()
        self.scheduler = Scheduler(
            job_file,
            self.store,
            self.launcher,
            self.clock,
            runner_id=self.runner_id,
            host=self.host,
            logs_dir=logs_dir(state_dir),
            notifier=JobHooks(log, self.launcher, mail=job_file.settings.smtp),
            boot_id=boot_id,
            boot_time=boot_time,
            log=log,
            # jobs that call `cronpy status` see their own runner; leftovers are found by it
            run_env={"CRONPY_STATE_DIR": str(state_dir)},
            fleet=self.fleet,
            prearmer=self.launcher,
            stop_requested=lambda: self.signals.stop_requested,
        )
        # shared store: NOTIFY wake-ups and the heartbeat (leases, sweep)
        self.peers = (
            PeerLink(self.store, self.selector, self.scheduler, log)
            if self.fleet is not None
            else None
        )
        self.scheduler.on_reload = self.reload
        self.scheduler.on_degraded = self._on_degraded
        self.wall_timer = make_wall_timer()
        if self.wall_timer is not None:
            self.selector.register(self.wall_timer, selectors.EVENT_READ, self._on_wall_timer)
        self.signals = Signals(self.selector, self.launcher.reap_orphans)
        self._awake_within: float | None = None
        self.exit_code = 0
        self.shutdown_grace = job_file.settings.shutdown_grace
        # the file it runs (`cronpy edit` edits it by default) and since when
        self.lock.note(
            job_file=str(job_file_path),
            loaded_at=self.clock.now().isoformat(),
            store=store_url if self.store.shared else None,
        )
        if self.metrics is not None:
            self.metrics.load_last_success(self.store, job_file.jobs)
            self.scheduler.observer = self.metrics
        self._status_at: object = None  # the next wake-up the STATUS= line last named

    def _serve_metrics(self, address: str | None) -> RunnerMetrics | None:
        """Bound before anything is registered: a busy address fails the start cleanly."""
        if address is None:
            return None
        from cronpy.runtime.metrics import RunnerMetrics

        metrics = RunnerMetrics()
        host, port = metrics.serve(address)
        self.log("metrics", address=f"{host}:{port}")
        return metrics

    def _sd_status(self, ready: bool = False) -> None:
        """STATUS= names the job due next; recomputed only when the next wake-up moves."""
        wake_at = self.scheduler.next_wakeup()
        if (arm_at := self.scheduler.next_arm()) is not None:  # hold what is due next
            wake_at = arm_at if wake_at is None else min(wake_at, arm_at)
        if notifying() and (ready or wake_at != self._status_at):
            self._status_at = wake_at
            states = (rt.state for rt in self.scheduler.engine.board.jobs.values())
            status = running_status(states, len(self.scheduler.job_file.jobs))
            sd_notify(f"READY=1\n{status}" if ready else status)

    # -- events ----------------------------------------------------------------------------------
    def _open_wake_socket(self) -> None:
        path = wake_socket_path(self.state_dir)
        path.unlink(missing_ok=True)
        self._wake = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        old = os.umask(0o077)
        try:
            self._wake.bind(str(path))
            self._wake_id = _identity(path)
        except OSError as exc:  # its length was checked in run_runner; this is anything else
            self._wake.close()
            raise StateError(
                f"cannot create the wake-up socket {path}: {exc.strerror or exc}"
            ) from None
        finally:
            os.umask(old)
        self._wake.setblocking(False)
        self.selector.register(self._wake, selectors.EVENT_READ, self._on_wake)

    def _on_wake(self, mask: int) -> None:
        try:
            while self._wake.recv(64):
                pass
        except BlockingIOError:
            pass
        self.scheduler.controls_arrived()

    def _on_wall_timer(self, mask: int) -> None:
        assert self.wall_timer is not None
        if self.wall_timer.consume():
            self.log("clock-set", now=self.clock.now().isoformat())
            self.scheduler.touch()

    def _on_degraded(self, note: str | None) -> None:
        """Say it where ``cronpy status`` and systemd look even while the database is unusable:
        the lock holder's small file (rewritten in place: that works on a full disk), and
        sd_notify STATUS."""
        sd_notify(f"STATUS=degraded: {note}" if note else "STATUS=running")
        self.lock.note(degraded=note)

    def _reopen_log(self) -> None:
        if self.log_file is None:
            return
        self.log.flush()
        try:
            reopen_log(self.log_file)
        except OSError as exc:  # keep writing to the old file rather than to nothing
            self.log("log-reopen-failed", path=str(self.log_file), reason=exc.strerror)
            return
        self.log("log-reopened", path=str(self.log_file))

    def reload(self) -> str:
        """Reread the job file; the answer is what ``cronpy reload`` prints (and exits 2 on,
        when it starts with RELOAD_REJECTED)."""
        reloading()
        self._reopen_log()
        now = self.clock.now().isoformat()
        try:
            job_file = load_job_file(self.path)
        except ConfigError as exc:
            for problem in exc.problems:
                self.log("reload-rejected", problem=str(problem))
            problems = "\n".join(str(p) for p in exc.problems)
            return self._reload_refused(
                now,
                problems,
                f"{len(exc.problems)} problem(s) in {self.path}; the jobs loaded at"
                f" {self.lock.loaded_at} keep running:\n{problems}",
            )
        try:
            self.scheduler.reload(job_file)
        except StateError as exc:  # the job states could not be read: keep the old jobs
            self.log("reload-rejected", problem=str(exc))
            return self._reload_refused(
                now, str(exc), f"{exc}; the jobs loaded at {self.lock.loaded_at} keep running"
            )
        if self.metrics is not None:
            self.metrics.set_reload_failed(False)
        if isinstance(self.scheduler.notifier, JobHooks):
            self.scheduler.notifier.mail = job_file.settings.smtp or Smtp()
        self._sd_status(ready=True)
        gc.freeze()
        self.shutdown_grace = job_file.settings.shutdown_grace
        self.lock.note(loaded_at=now, reload_refused=None)
        return f"reloaded: {len(job_file.jobs)} jobs"

    def _reload_refused(self, now: str, why: str, answer: str) -> str:
        self.lock.note(reload_refused=f"at {now}: {why}")
        if self.metrics is not None:
            self.metrics.set_reload_failed(True)
        self._sd_status(ready=True)
        return f"{RELOAD_REJECTED}{answer}"

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        self.signals.install()
        self._open_wake_socket()
        lost = {r.id for r in self.store.running_runs()}
        gc.disable()  # start builds a state and a plan per job and no cycles: with 100,000
        try:  # jobs the collector's passes over them were a fifth of the start
            self.scheduler.start()
        finally:
            gc.enable()
        gc.freeze()  # they live as long as the jobs
        if lost and (killed := kill_leftovers(lost, self.state_dir)):
            self.log("killed-leftovers", processes=killed)
        self.log(
            "ready",
            jobs=len(self.scheduler.job_file.jobs),
            pid=os.getpid(),
            state_dir=str(self.state_dir),
        )
        self._sd_status(ready=True)
        watchdog = watchdog_interval()
        next_watchdog = self.clock.monotonic() + watchdog if watchdog else None
        shutdown_deadline: float | None = None
        forced = False
        maintenance = Maintenance(self.store, self.log, self.clock.monotonic(), interval_from_env())
        while True:
            if self.signals.reopen_requested:
                self.signals.reopen_requested = False
                self._reopen_log()
            if self.signals.reload_requested:
                self.signals.reload_requested = False
                self.log("reload", result=self.reload())
            if self.exit_code == 0 and (why := self.lock.lost()) is not None:
                self._lock_lost(why)
            if self.signals.stop_requested and shutdown_deadline is None:
                shutdown_deadline = self.clock.monotonic() + self.shutdown_grace
                self.scheduler.begin_shutdown()
                sd_notify("STOPPING=1")
                self.log("stopping", running=len(self.launcher.running), grace=self.shutdown_grace)
            self.launcher.check_deadlines()
            self.scheduler.tick()
            log_hook_outcomes(self.launcher.drain_hooks(), self.log)
            mono = self.clock.monotonic()
            if shutdown_deadline is not None:
                # hooks of the last runs (on_failure, ...) get the rest of the grace too
                if not self.launcher.running and not self.launcher.hooks_running:
                    break
                if (mono >= shutdown_deadline or self.signals.force_requested) and not forced:
                    forced = True
                    reason = "shutdown" if mono >= shutdown_deadline else "second stop signal"
                    self.log("cancelling", running=len(self.launcher.running), reason=reason)
                    self.launcher.stop_all(reason, grace=5.0)
            if next_watchdog is not None and mono >= next_watchdog:
                sd_notify("WATCHDOG=1")
                next_watchdog = mono + (watchdog or 0.0)
            if self.peers is not None:
                self.peers.beat_if_due(mono)
            timeout = self._timeout(mono, shutdown_deadline, next_watchdog, forced)
            if maintenance.run_if_due(mono, timeout):  # it took time: measure again
                mono = self.clock.monotonic()
                timeout = self._timeout(mono, shutdown_deadline, next_watchdog, forced)
            self._sd_status()
            self.log.flush()
            slept_from = self.clock.monotonic()
            for key, mask in self.selector.select(timeout):
                key.data(mask)
            self._check_stall(self.clock.monotonic() - slept_from)
        self.scheduler.tick()
        log_hook_outcomes(self.launcher.drain_hooks(), self.log)
        self._final_writes()
        self.log("stopped", exit_code=self.exit_code)
        self.log.flush()
        return self.exit_code

    def _lock_lost(self, why: str) -> None:
        """Another runner may own these jobs now: claim nothing more, let what runs finish
        (within shutdown_grace, as at a SIGTERM: they are half-done work nobody else will
        redo), then exit 3 so a supervisor restarts us onto the lock that is there now."""
        self.exit_code = 3
        self.signals.stop_requested = True
        self.log("lock-lost", reason=why, running=len(self.launcher.running))
        sd_notify(f"STATUS=stopping: {why}; no longer the runner of {self.state_dir}")

    def _final_writes(self) -> None:
        """Write what is queued and sign off; a store that still refuses costs the exit code,
        not a traceback (the next runner marks what is left ``running`` as lost)."""
        try:
            if self.scheduler.backlog:
                self.scheduler.backlog.replay()
                if self.scheduler.backlog:
                    raise StateError(self.scheduler.degraded or "state writes failing")
            self.store.unregister_runner(self.runner_id, self.clock.now())
        except StateError as exc:
            self.log("state-unwritten", reason=str(exc))
            self.exit_code = 3

    def _timeout(
        self, mono: float, shutdown_deadline: float | None, watchdog: float | None, forced: bool
    ) -> float | None:
        deadlines: list[float] = []
        wake_at = self.scheduler.next_wakeup()
        if (arm_at := self.scheduler.next_arm()) is not None:  # hold what is due next
            wake_at = arm_at if wake_at is None else min(wake_at, arm_at)
        due_in = None if wake_at is None else (wake_at - self.clock.now()).total_seconds()
        if self.wall_timer is not None:
            self.wall_timer.arm(wake_at)
        elif due_in is not None:
            deadlines.append(mono + due_in)
        if (d := self.launcher.next_deadline()) is not None:
            deadlines.append(d)

        if shutdown_deadline is not None and not forced:
            deadlines.append(shutdown_deadline)
        if watchdog is not None:
            deadlines.append(watchdog)
        if self.peers is not None and self.peers.next_beat is not None:  # leases, the sweep
            deadlines.append(self.peers.next_beat)
        # when the loop must be awake again at the latest: waking much later means it stalled
        expected = [d - mono for d in deadlines] + ([due_in] if due_in is not None else [])
        self._awake_within = max(0.0, min(expected)) if expected else None
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - mono)

    def _check_stall(self, slept: float) -> None:
        """A SIGSTOP, or a machine starving us, shows as a sleep far longer than asked for
        (monotonic time runs on while stopped; it does not across a suspend, which the engine
        detects on its own)."""
        if self._awake_within is not None and slept - self._awake_within > STALL_AFTER:
            self.scheduler.stalled(slept - self._awake_within)

    def close(self) -> None:
        self.launcher.close()
        self.store.close()
        if hasattr(self, "_wake"):
            self._wake.close()
            # only our socket: under a replaced state directory the path is another runner's
            path = wake_socket_path(self.state_dir)
            if _identity(path) == self._wake_id:
                path.unlink(missing_ok=True)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino
