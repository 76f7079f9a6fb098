"""What makes a runner sure it is the only one: who a lock holder is (and whether that process
still lives), whether the lock it holds is still the one its path leads to, and the machine-wide
lock on a job file that keeps two state directories from running the same jobs.

A flock guards an open file, not a path. Remove runner.lock (or the whole state directory) under
a live runner and the next runner locks a new file at the same path: both then run every job.
So the lock is not the only proof: the holder's runner.json names its pid, that pid's start time
and the boot, which a new runner checks before it takes over (``holder_alive``), and the live
runner compares what its paths lead to with what it holds at each wake-up (``LockIdentity``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cronpy.errors import LockHeldError, StateError
from cronpy.runtime.host import boot_identity


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (/proc/PID/stat field 22); None when it
    does not exist. A pid is reused; a (pid, start time, boot) triple names one process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from its closing one
    fields = text.rsplit(")", 1)[-1].split()
    try:
        if fields[0] == "Z":  # a zombie has finished; its parent just has not reaped it
            return None
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def holder_alive(holder: dict[str, Any], *, host: str) -> bool:
    """True when the process a runner.json names is provably still running on this machine:
    same host, same boot, same pid with the same start time. Anything unknown is not proof."""
    pid, started, boot = holder.get("pid"), holder.get("proc_start"), holder.get("boot_id")
    if holder.get("host") != host or not isinstance(pid, int) or not isinstance(started, int):
        return False
    if pid == os.getpid():
        return False
    if boot is not None and boot != boot_identity()[0]:
        return False
    return process_start(pid) == started


class LockIdentity:
    """Which file the lock path and which directory the state path led to when we took the lock.

    Two stat calls, made at each wake-up of the loop before it may claim anything."""

    def __init__(self, state_dir: Path, lock_file: Path) -> None:
        self.state_dir = state_dir
        self.lock_file = lock_file
        self._dir = _identity(state_dir)
        self._lock = _identity(lock_file)

    def lost(self) -> str | None:
        """Why this runner no longer holds the lock its paths name, or None while it does."""
        if _identity(self.state_dir) != self._dir:
            return f"the state directory {self.state_dir} was removed or replaced"
        now = _identity(self.lock_file)
        if now is None:
            return f"the lock file {self.lock_file} was removed"
        if now != self._lock:
            return f"the lock file {self.lock_file} was replaced"
        return None


def flock_exclusive(path: Path, timeout: float, *, mode: int = 0o600) -> int | None:
    """An exclusive flock on ``path`` (created with ``mode``), waited for up to ``timeout``
    seconds: its descriptor, to close to release it; None while another process holds it.

    The runner's lock, once through filelock: the same flock on the same file, so runners of
    either kind exclude each other, without filelock's imports (logging, decimal, secrets and
    through it OpenSSL: ~5 MiB of a 25 MiB runner). If the file is removed or replaced while we
    wait, the lock we got is on a name nobody sees: try again on the file the path names now.
    """
    import time

    deadline = time.monotonic() + timeout
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        fd = os.open(path, flags, mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
            continue
        if _identity(path) == _fd_identity(fd):
            return fd
        os.close(fd)  # a removed or replaced file: the flock on it excludes nobody


def _fd_identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


# -- one runner per job file on this machine ---------------------------------------------------


def runtime_dir() -> Path:
    """Where the machine-wide locks live: /run/cronpy for root, else $XDG_RUNTIME_DIR/cronpy,
    else /tmp/cronpy-UID. A tmpfs cleared at boot where there is one: no stale lock survives."""
    euid = os.geteuid()
    if euid == 0 and Path("/run").is_dir():
        return Path("/run/cronpy")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if euid != 0 and xdg and Path(xdg).is_absolute():
        return Path(xdg) / "cronpy"
    return Path(f"/tmp/cronpy-{euid}")


def _private_runtime_dir() -> Path:
    path = runtime_dir()
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise StateError(f"cannot create the runtime directory {path}: {exc.strerror}") from exc
    # In /tmp anyone may have made it first: only a private directory of ours is trusted, or
    # another user could hold our lock forever (or point it elsewhere with a symlink).
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise StateError(
            f"the runtime directory {path} is not a directory owned by this user"
            f" (uid {os.geteuid()}); remove it, or run with --allow-duplicate"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


class JobFileLock:
    """An flock on a file named by a hash of the job file's real path, in the runtime directory:
    a second runner on the same job file (under another state directory) is refused.

    The lock file holds the holder's pid and state directory, for the refusal message. It is
    never unlinked: removing a flock'ed file is how two processes come to hold "the" lock."""

    def __init__(self, job_file: Path, state_dir: Path) -> None:
        self.job_file = Path(os.path.realpath(job_file))
        self.state_dir = state_dir
        from cronpy.digest import sha256  # here: the read commands import this module, never hash

        digest = sha256(os.fsencode(self.job_file)).hexdigest()[:32]
        self.path: Path | None = None
        self._digest = digest
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path = path = _private_runtime_dir() / f"job-{self._digest}.lock"
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open the job file lock {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StateError(f"cannot take the job file lock {path}: {exc}") from exc
            raise LockHeldError(self._held_message(path)) from None
        record = {
            "pid": os.getpid(),
            "state_dir": str(self.state_dir),
            "job_file": str(self.job_file),
            "started_at": datetime.now(UTC).isoformat(),
        }
        import json  # here, not at the top: `cronpy status` imports this module and needs no json

        with contextlib.suppress(OSError):  # the message is a courtesy; the flock is the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd

    def _held_message(self, path: Path) -> str:
        import json

        try:
            holder = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            holder = {}
        if not isinstance(holder, dict):
            holder = {}
        pid, state_dir = holder.get("pid", "?"), holder.get("state_dir", "?")
        who = f"pid {pid} with the state directory {state_dir}"
        return (
            f"another runner already runs the jobs of {self.job_file} on this machine: {who};"
            " two runners would start every job twice. Stop it first, or pass --allow-duplicate"
            f" if running these jobs twice is what you want (lock: {path})"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # drops the flock
        self._fd = None
