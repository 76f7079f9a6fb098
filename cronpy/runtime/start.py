"""``cronpy run``: check the job file and the state directory, take the locks (one runner per
state directory, one per job file on this machine), detach if asked, then hand over to the
``Runner`` loop; and say why, with the right exit code, when any of that fails."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy.config import load_job_file
from cronpy.errors import CronpyError, StateError, UsageError
from cronpy.runtime.daemon import daemon_ready, daemonize
from cronpy.runtime.eventlog import EventLog
from cronpy.runtime.lock import JobFileLock

if TYPE_CHECKING:
    pass
from cronpy.runtime.loop import MAX_SOCKET_PATH, Runner
from cronpy.runtime.statedir import (
    RunnerLock,
    ensure_state_dir,
    wake_socket_path,
)


def run_runner(
    job_file: Path,
    *,
    state_dir: Path,
    store_url: str | None = None,
    daemon: bool = False,
    log_format: str = "text",
    pid_file: Path | None = None,
    allow_duplicate: bool = False,
    metrics: str | None = None,
) -> int:
    """``cronpy run``: validate, lock, then run until SIGTERM/SIGINT. Returns the exit code."""
    jobs = load_job_file(job_file)
    gc.freeze()  # the jobs live as long as the runner: keep the collector from rescanning them
    # every path absolute before the daemon leaves its working directory for /
    job_file, state_dir = job_file.resolve(), state_dir.absolute()
    if len(os.fsencode(wake_socket_path(state_dir))) > MAX_SOCKET_PATH:
        raise UsageError(
            f"the state directory path {state_dir} is too long: the wake-up socket inside it"
            f" would exceed the {MAX_SOCKET_PATH} bytes a unix socket path may hold;"
            " use a shorter --state-dir"
        )
    state_dir = ensure_state_dir(state_dir)
    store_url = store_url or jobs.settings.store
    ready_fd: int | None = None
    log_file: Path | None = None
    if daemon:
        log_file = state_dir / "runner.log"
        ready_fd = daemonize(log_file)
    pid_path = pid_file.absolute() if pid_file else state_dir / "runner.pid" if daemon else None
    lock = RunnerLock(state_dir)  # our pid: after the forks
    # Another state directory on the same job file would run every job twice. A shared store
    # (PostgreSQL) coordinates runners itself; --allow-duplicate is the user saying "I know".
    job_lock = None if allow_duplicate or _shared(store_url) else JobFileLock(job_file, state_dir)
    log = EventLog(sys.stderr, log_format)
    try:
        lock.acquire()
        if job_lock is not None:
            job_lock.acquire()
        if pid_path is not None:  # once the locks are ours: a refused runner keeps the live pid
            _write_pid(pid_path)
        runner = Runner(
            job_file,
            jobs,
            state_dir=state_dir,
            store_url=store_url,
            log=log,
            lock=lock,
            log_file=log_file,
            metrics=metrics,
        )
    except CronpyError as exc:
        if lock.held:  # the pid file, if written, is ours: it comes after the lock
            if pid_path is not None:
                _remove_pid(pid_path)
            if job_lock is not None:
                job_lock.release()
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
        if pid_path is not None:
            _remove_pid(pid_path)
        if job_lock is not None:
            job_lock.release()
        lock.release()


def _shared(store_url: str | None) -> bool:
    return store_url is not None and not store_url.startswith("sqlite:")


def _write_pid(path: Path) -> None:
    try:
        path.write_text(f"{os.getpid()}\n")
    except OSError as exc:
        raise StateError(f"cannot write the pid file {path}: {exc.strerror}") from exc


def _remove_pid(path: Path) -> None:
    """Remove the pid file if it still names us (another runner may have written it since)."""
    with contextlib.suppress(OSError):
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
