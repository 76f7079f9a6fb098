"""The real-time driver around the ``Scheduler``: lock, store, signals, wake-ups, the loop.

The loop sleeps in ``select`` until the earliest of: the next due instant, a process deadline
(timeout, kill escalation), a child's output or exit, a signal, or a command's wake-up datagram.
There is no periodic timer. Signal handlers only set flags (the wake-up fd interrupts select).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy.config import load_job_file
from cronpy.errors import ConfigError, CronpyError, StateError, UsageError
from cronpy.launch.launcher import Launcher
from cronpy.launch.leftovers import kill_leftovers
from cronpy.model import JobFile, Smtp
from cronpy.notify.hooks import JobHooks, log_hook_outcomes
from cronpy.runtime.clock import SystemClock
from cronpy.runtime.daemon import daemon_ready, daemonize
from cronpy.runtime.eventlog import EventLog
from cronpy.runtime.host import boot_identity

if TYPE_CHECKING:
    from cronpy.runtime.metrics import RunnerMetrics
from cronpy.runtime.scheduler import Scheduler
from cronpy.runtime.sdnotify import (
    notifying,
    reloading,
    running_status,
    sd_notify,
    watchdog_interval,
)
from cronpy.runtime.statedir import (
    RunnerLock,
    ensure_state_dir,
    holder_path,
    logs_dir,
    read_holder,
    wake_socket_path,
    write_private,
)
from cronpy.runtime.walltimer import make_wall_timer
from cronpy.store import open_store

_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with its terminating NUL
STALL_AFTER = 2.0  # seconds late out of select that count as a stall, not scheduling jitter


class Runner:
    def __init__(
        self,
        job_file_path: Path,
        job_file: JobFile,
        *,
        state_dir: Path,
        store_url: str | None,
        log: EventLog,
        metrics: str | None = None,
    ) -> None:
        self.path = job_file_path
        self.state_dir = state_dir
        self.log = log
        self.clock = SystemClock()
        self.metrics = self._serve_metrics(metrics or job_file.settings.metrics)
        # A short wait for a lock: a write the runner cannot make is queued and retried, and
        # waiting longer would block the loop (timeouts, output) while another process holds it.
        self.store = open_store(state_dir, store_url, busy_timeout=1.0)
        self.selector = selectors.DefaultSelector()
        self.launcher = Launcher(self.selector, self.clock.monotonic)
        self.host = socket.gethostname()
        self.runner_id = self.store.register_runner(self.host, os.getpid(), self.clock.now())
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
        )
        self.scheduler.on_reload = self.reload
        self.scheduler.on_degraded = self._on_degraded
        self.wall_timer = make_wall_timer()
        if self.wall_timer is not None:
            self.selector.register(self.wall_timer, selectors.EVENT_READ, self._on_wall_timer)
        self.stop_requested = False
        self._awake_within: float | None = None
        self.reload_requested = False
        self.shutdown_grace = job_file.settings.shutdown_grace
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
        if notifying() and (ready or wake_at != self._status_at):
            self._status_at = wake_at
            states = (rt.state for rt in self.scheduler.engine.board.jobs.values())
            status = running_status(states, len(self.scheduler.job_file.jobs))
            sd_notify(f"READY=1\n{status}" if ready else status)

    # -- events ----------------------------------------------------------------------------------
    def _install_signals(self) -> None:
        self._sig_r, self._sig_w = socket.socketpair()
        for sock in (self._sig_r, self._sig_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self._sig_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        # a handler (not SIG_DFL) so the wake-up fd fires: leftovers of killed groups get reaped
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self.selector.register(self._sig_r, selectors.EVENT_READ, self._drain_signals)

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def _on_hup(self, signum: int, frame: object) -> None:
        self.reload_requested = True

    def _drain_signals(self, mask: int) -> None:
        try:
            while self._sig_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        self.launcher.reap_orphans()

    def _open_wake_socket(self) -> None:
        path = wake_socket_path(self.state_dir)
        path.unlink(missing_ok=True)
        self._wake = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        old = os.umask(0o077)
        try:
            self._wake.bind(str(path))
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
        the lock holder's small file, and sd_notify STATUS."""
        sd_notify(f"STATUS=degraded: {note}" if note else "STATUS=running")
        holder = read_holder(self.state_dir)
        if holder is not None:
            record = {**holder, "degraded": note}
            with contextlib.suppress(OSError):
                write_private(holder_path(self.state_dir), json.dumps(record) + "\n")

    def reload(self) -> str:
        reloading()
        try:
            job_file = load_job_file(self.path)
        except ConfigError as exc:
            for problem in exc.problems:
                self.log("reload-rejected", problem=str(problem))
            if self.metrics is not None:
                self.metrics.set_reload_failed(True)
            self._sd_status(ready=True)
            return f"rejected: {len(exc.problems)} problem(s); the old jobs keep running"
        if self.metrics is not None:
            self.metrics.set_reload_failed(False)
        if isinstance(self.scheduler.notifier, JobHooks):
            self.scheduler.notifier.mail = job_file.settings.smtp or Smtp()
        self.scheduler.reload(job_file)
        self._sd_status(ready=True)
        gc.freeze()
        self.shutdown_grace = job_file.settings.shutdown_grace
        return f"reloaded: {len(job_file.jobs)} jobs"

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        self._open_wake_socket()
        lost = {r.id for r in self.store.running_runs()}
        self.scheduler.start()
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
        next_maintenance = self.clock.monotonic() + 60.0
        while True:
            if self.reload_requested:
                self.reload_requested = False
                self.log("reload", result=self.reload())
            if self.stop_requested and shutdown_deadline is None:
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
                if mono >= shutdown_deadline and not forced:
                    forced = True
                    self.launcher.stop_all("shutdown", grace=5.0)
            if next_watchdog is not None and mono >= next_watchdog:
                sd_notify("WATCHDOG=1")
                next_watchdog = mono + (watchdog or 0.0)
            timeout = self._timeout(mono, shutdown_deadline, next_watchdog, forced)
            if (timeout is None or timeout > 1.0) and mono >= next_maintenance:
                # fold SQLite's WAL while nothing is due, off the hot path, once a minute at most
                self.store.maintain()
                next_maintenance = mono + 60.0
            self._sd_status()
            self.log.flush()
            slept_from = self.clock.monotonic()
            for key, mask in self.selector.select(timeout):
                key.data(mask)
            self._check_stall(self.clock.monotonic() - slept_from)
        self.scheduler.tick()
        log_hook_outcomes(self.launcher.drain_hooks(), self.log)
        self.store.unregister_runner(self.runner_id, self.clock.now())
        self.log("stopped")
        self.log.flush()
        return 0

    def _timeout(
        self, mono: float, shutdown_deadline: float | None, watchdog: float | None, forced: bool
    ) -> float | None:
        deadlines: list[float] = []
        wake_at = self.scheduler.next_wakeup()
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
        self.store.close()
        if hasattr(self, "_wake"):
            self._wake.close()
            wake_socket_path(self.state_dir).unlink(missing_ok=True)


def run_runner(
    job_file: Path,
    *,
    state_dir: Path,
    store_url: str | None = None,
    daemon: bool = False,
    log_format: str = "text",
    pid_file: Path | None = None,
    metrics: str | None = None,
) -> int:
    """``cronpy run``: validate, lock, then run until SIGTERM/SIGINT. Returns the exit code."""
    jobs = load_job_file(job_file)
    gc.freeze()  # the jobs live as long as the runner: keep the collector from rescanning them
    if len(os.fsencode(wake_socket_path(state_dir.absolute()))) > _MAX_SOCKET_PATH:
        raise UsageError(
            f"the state directory path {state_dir} is too long: the wake-up socket inside it"
            f" would exceed the {_MAX_SOCKET_PATH} bytes a unix socket path may hold;"
            " use a shorter --state-dir"
        )
    state_dir = ensure_state_dir(state_dir)
    lock = RunnerLock(state_dir)
    ready_fd: int | None = None
    if daemon:
        ready_fd = daemonize(state_dir)
        lock = RunnerLock(state_dir)  # our pid, after the forks
    pid_path = (pid_file or state_dir / "runner.pid") if daemon else None
    log = EventLog(sys.stderr, log_format)
    try:
        lock.acquire()
        if pid_path is not None:  # once the lock is ours: a refused daemon keeps the live pid
            pid_path.write_text(f"{os.getpid()}\n")
        runner = Runner(
            job_file.resolve(),
            jobs,
            state_dir=state_dir,
            store_url=store_url or jobs.settings.store,
            log=log,
            metrics=metrics,
        )
    except CronpyError as exc:
        if lock.held:  # the pid file, if written, is ours: it comes after the lock
            if pid_path is not None:
                pid_path.unlink(missing_ok=True)
            lock.release()
        if ready_fd is not None:  # the waiting parent says why, and exits with our code
            daemon_ready(ready_fd, f"{exc.exit_code} cronpy: {exc}\n")
            os._exit(exc.exit_code)
        raise
    if ready_fd is not None:
        daemon_ready(ready_fd, "ok\n")
    try:
        return runner.run()
    finally:
        log.flush()
        runner.close()
        lock.release()
        if pid_path is not None:
            pid_path.unlink(missing_ok=True)
