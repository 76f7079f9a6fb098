"""The real-time driver around ``Core``: lock, store, signals, wake-ups, and the event loop.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cronpy.config import load_job_file
from cronpy.engine.core import Core
from cronpy.errors import ConfigError, CronpyError, StateError, UsageError
from cronpy.launch.launcher import Launcher
from cronpy.model import JobFile
from cronpy.notify.hooks import JobHooks, log_hook_outcomes
from cronpy.runtime.clock import SystemClock
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


class EventLog:
    """One line per event on stderr: ``key=value`` for people, JSON objects for machines.

    Lines are buffered and written by ``flush()``, which the loop calls before it sleeps: a
    burst of 200 starts then costs one write, not 400 (a write and a flush per line was a
    fifth of the runner's time in that burst)."""

    def __init__(self, stream: TextIO, fmt: str = "text") -> None:
        self.stream = stream
        self.json = fmt == "json"
        self._lines: list[str] = []

    def __call__(self, event: str, **fields: Any) -> None:
        ts = datetime.now(UTC).isoformat(timespec="milliseconds")
        if self.json:
            line = json.dumps({"ts": ts, "event": event, **fields}, default=str)
        else:
            parts = [f"{k}={_text(v)}" for k, v in fields.items() if v is not None]
            line = " ".join([ts, event, *parts])
        self._lines.append(line + "\n")

    def flush(self) -> None:
        if not self._lines:
            return
        text, self._lines = "".join(self._lines), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not stop the runner


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (" " in text or not text) else text


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) where NOTIFY_SOCKET is set; a no-op elsewhere."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.sendto(message.encode(), address)


def boot_identity() -> tuple[str | None, datetime | None]:
    """This boot's id and start time, which ``@reboot`` runs are keyed by."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None, None
    boot_time = None
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                boot_time = datetime.fromtimestamp(int(line.split()[1]), UTC)
    except OSError:
        pass
    return boot_id, boot_time


def kill_leftovers(run_ids: set[int], state_dir: Path) -> int:
    """Kill the process groups of runs a dead runner left behind.

    A process is ours when its environment carries ``CRONPY_RUN_ID`` of a lost run and our
    ``CRONPY_STATE_DIR`` (run ids are per state directory): that survives pid reuse, which a
    bare pid or process group id does not, and spares other runners' jobs."""
    killed = 0
    wanted = {f"CRONPY_RUN_ID={i}".encode() for i in run_ids}
    ours = f"CRONPY_STATE_DIR={state_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if ours not in environ or wanted.isdisjoint(environ):
            continue
        try:
            os.killpg(os.getpgid(int(entry.name)), signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


class Runner:
    def __init__(
        self,
        job_file_path: Path,
        job_file: JobFile,
        *,
        state_dir: Path,
        store_url: str | None,
        log: EventLog,
    ) -> None:
        self.path = job_file_path
        self.state_dir = state_dir
        self.log = log
        self.clock = SystemClock()
        # A short wait for a lock: a write the runner cannot make is queued and retried, and
        # waiting longer would block the loop (timeouts, output) while another process holds it.
        self.store = open_store(state_dir, store_url, busy_timeout=1.0)
        self.selector = selectors.DefaultSelector()
        self.launcher = Launcher(self.selector, self.clock.monotonic)
        self.host = socket.gethostname()
        self.runner_id = self.store.register_runner(self.host, os.getpid(), self.clock.now())
        boot_id, boot_time = boot_identity()
        self.core = Core(
            job_file,
            self.store,
            self.launcher,
            self.clock,
            runner_id=self.runner_id,
            host=self.host,
            logs_dir=logs_dir(state_dir),
            hooks=JobHooks(log, self.launcher),
            boot_id=boot_id,
            boot_time=boot_time,
            log=log,
            # jobs that call `cronpy status` see their own runner; leftovers are found by it
            run_env={"CRONPY_STATE_DIR": str(state_dir)},
        )
        self.core.on_reload = self.reload
        self.core.on_degraded = self._on_degraded
        self.wall_timer = make_wall_timer()
        if self.wall_timer is not None:
            self.selector.register(self.wall_timer, selectors.EVENT_READ, self._on_wall_timer)
        self.stop_requested = False
        self.reload_requested = False
        self.shutdown_grace = job_file.settings.shutdown_grace

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
        self.core.controls_arrived()

    def _on_wall_timer(self, mask: int) -> None:
        assert self.wall_timer is not None
        if self.wall_timer.consume():
            self.log("clock-set", now=self.clock.now().isoformat())
            self.core.touch()

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
        try:
            job_file = load_job_file(self.path)
        except ConfigError as exc:
            for problem in exc.problems:
                self.log("reload-rejected", problem=str(problem))
            return f"rejected: {len(exc.problems)} problem(s); the old jobs keep running"
        self.core.reload(job_file)
        gc.freeze()
        self.shutdown_grace = job_file.settings.shutdown_grace
        return f"reloaded: {len(job_file.jobs)} jobs"

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        self._open_wake_socket()
        lost = {r.id for r in self.store.running_runs()}
        self.core.start()
        if lost and (killed := kill_leftovers(lost, self.state_dir)):
            self.log("killed-leftovers", processes=killed)
        self.log(
            "ready",
            jobs=len(self.core.job_file.jobs),
            pid=os.getpid(),
            state_dir=str(self.state_dir),
        )
        sd_notify(f"READY=1\nSTATUS=running {len(self.core.job_file.jobs)} jobs")
        watchdog = _watchdog_interval()
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
                self.core.begin_shutdown()
                sd_notify("STOPPING=1")
                self.log("stopping", running=len(self.launcher.running), grace=self.shutdown_grace)
            self.launcher.check_deadlines()
            self.core.tick()
            log_hook_outcomes(self.launcher.drain_hooks(), self.log)
            mono = self.clock.monotonic()
            if shutdown_deadline is not None:
                if not self.launcher.running:
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
            self.log.flush()
            for key, mask in self.selector.select(timeout):
                key.data(mask)
        self.core.tick()
        log_hook_outcomes(self.launcher.drain_hooks(), self.log)
        self.store.unregister_runner(self.runner_id, self.clock.now())
        self.log("stopped")
        self.log.flush()
        return 0

    def _timeout(
        self, mono: float, shutdown_deadline: float | None, watchdog: float | None, forced: bool
    ) -> float | None:
        deadlines: list[float] = []
        wake_at = self.core.next_wakeup()
        if self.wall_timer is not None:
            self.wall_timer.arm(wake_at)
        elif wake_at is not None:
            deadlines.append(mono + (wake_at - self.clock.now()).total_seconds())
        if (d := self.launcher.next_deadline()) is not None:
            deadlines.append(d)
        if shutdown_deadline is not None and not forced:
            deadlines.append(shutdown_deadline)
        if watchdog is not None:
            deadlines.append(watchdog)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - mono)

    def close(self) -> None:
        self.store.close()
        if hasattr(self, "_wake"):
            self._wake.close()
            wake_socket_path(self.state_dir).unlink(missing_ok=True)


def _watchdog_interval() -> float | None:
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit():
        return None
    return int(usec) / 2e6


def _daemonize(state_dir: Path) -> int:
    """Detach: double fork, new session, stdio to the state directory's runner.log.

    The parent waits on a pipe until the daemon has taken the lock and says ``ok`` (or why not),
    so ``cronpy run --daemon`` exits 2 naming the holder when another runner is up, like the
    foreground one. Returns the pipe's write end, for ``_daemon_ready``."""
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        with os.fdopen(read_fd, "r") as pipe:
            answer = pipe.read()
        if answer.startswith("ok"):
            os._exit(0)
        code, _, message = answer.partition(" ")
        if not code.isdigit():  # nothing said: it died before it could
            code, message = "2", "cronpy: the daemon died before it was ready\n"
        sys.stderr.write(message)
        os._exit(int(code))
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    log_path = state_dir / "runner.log"
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    return write_fd


def _daemon_ready(fd: int, message: str) -> None:
    with os.fdopen(fd, "w") as pipe:
        pipe.write(message)


def run_runner(
    job_file: Path,
    *,
    state_dir: Path,
    store_url: str | None = None,
    daemon: bool = False,
    log_format: str = "text",
    pid_file: Path | None = None,
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
        ready_fd = _daemonize(state_dir)
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
        )
    except CronpyError as exc:
        if lock.held:  # the pid file, if written, is ours: it comes after the lock
            if pid_path is not None:
                pid_path.unlink(missing_ok=True)
            lock.release()
        if ready_fd is not None:  # the waiting parent says why, and exits with our code
            _daemon_ready(ready_fd, f"{exc.exit_code} cronpy: {exc}\n")
            os._exit(exc.exit_code)
        raise
    if ready_fd is not None:
        _daemon_ready(ready_fd, "ok\n")
    try:
        return runner.run()
    finally:
        log.flush()
        runner.close()
        lock.release()
        if pid_path is not None:
            pid_path.unlink(missing_ok=True)
