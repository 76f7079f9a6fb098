"""The state directory: where it is, who may read it, the runner lock and the wake-up socket.

Layout of a state directory (mode 0700):
    state.db      the SQLite store (0600)
    logs/         one output file per run (0700)
    runner.lock   flock'ed by the one runner using this directory
    runner.json   who holds the lock: pid, host, since (0600)
    wake.sock     the runner's unix datagram socket; one byte wakes it up
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NotRequired, TypedDict

from cronpy.errors import LockHeldError, StateError

if TYPE_CHECKING:
    from filelock import BaseFileLock

SYSTEM_STATE_DIR = Path("/var/lib/cronpy")
ENV_STATE_DIR = "CRONPY_STATE_DIR"


def db_path(state_dir: Path) -> Path:
    return state_dir / "state.db"


def logs_dir(state_dir: Path) -> Path:
    return state_dir / "logs"


def lock_path(state_dir: Path) -> Path:
    return state_dir / "runner.lock"


def holder_path(state_dir: Path) -> Path:
    return state_dir / "runner.json"


def wake_socket_path(state_dir: Path) -> Path:
    return state_dir / "wake.sock"


def resolve_state_dir(
    option: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    euid: int | None = None,
) -> Path:
    """``--state-dir``, else $CRONPY_STATE_DIR, else /var/lib/cronpy for root, else the user's
    platform state directory. Always absolute: a daemon changes its working directory."""
    env = os.environ if environ is None else environ
    if option:
        return Path(option).expanduser().absolute()
    if env.get(ENV_STATE_DIR):
        return Path(env[ENV_STATE_DIR]).expanduser().absolute()
    if (os.geteuid() if euid is None else euid) == 0:
        return SYSTEM_STATE_DIR
    import platformdirs  # only when needed: most invocations name the directory

    return Path(platformdirs.user_state_dir("cronpy")).absolute()


def _ensure_private_dir(path: Path, what: str) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise StateError(f"{what} {path} exists and is not a directory") from exc
    except OSError as exc:
        raise StateError(f"cannot create the {what} {path}: {exc.strerror}") from exc
    info = path.stat()
    # Run output and history can hold secrets; tighten a directory we own that someone
    # (or a umask) left open. Someone else's directory is theirs to set.
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        try:
            path.chmod(0o700)
        except OSError as exc:
            raise StateError(f"cannot make the {what} {path} private: {exc.strerror}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateError(f"the {what} {path} is not writable by this user (uid {os.geteuid()})")


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory and its logs/ subdirectory, both 0700."""
    _ensure_private_dir(path, "state directory")
    _ensure_private_dir(logs_dir(path), "log directory")
    return path


# -- the runner lock ---------------------------------------------------------------------------


class Holder(TypedDict):
    """Who holds a state directory's runner lock. None fields: the holder has not written
    runner.json yet (the instant after it took the lock)."""

    pid: int | None
    host: str | None
    started_at: str | None  # ISO 8601 with offset
    degraded: NotRequired[str | None]  # what the runner cannot do right now (state writes failing)
    job_file: NotRequired[str | None]  # the absolute path of the file it runs (`cronpy edit`)


def read_holder(state_dir: Path) -> Holder | None:
    """What the last runner wrote about itself; it may be gone (see ``runner_alive``)."""
    try:
        data = json.loads(holder_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, host, started_at = data.get("pid"), data.get("host"), data.get("started_at")
    degraded, job_file = data.get("degraded"), data.get("job_file")
    holder = Holder(
        pid=pid if isinstance(pid, int) else None,
        host=host if isinstance(host, str) else None,
        started_at=started_at if isinstance(started_at, str) else None,
        degraded=degraded if isinstance(degraded, str) else None,
    )
    if isinstance(job_file, str):
        holder["job_file"] = job_file
    return holder


def runner_alive(state_dir: Path) -> Holder | None:
    """The holder of the runner lock when a process holds it now; None when no runner is up.

    Probes with a shared, non-blocking flock: it fails only while a runner holds the
    exclusive lock, and two probing commands never mistake each other for a runner.
    """
    import fcntl

    try:
        fd = os.open(lock_path(state_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot check the runner lock {lock_path(state_dir)}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise StateError(f"cannot check the runner lock {lock_path(state_dir)}: {exc}") from exc
        held = True
    else:
        held = False
    finally:
        os.close(fd)  # drops our shared lock, if we got it
    if not held:
        return None
    return read_holder(state_dir) or Holder(pid=None, host=None, started_at=None)


class RunnerLock:
    """The one-runner-per-state-directory lock (an flock, so it dies with its process).

    ``timeout`` is short but not zero so that a command probing the lock (``runner_alive``)
    at the instant a runner starts does not make that runner give up.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        timeout: float = 0.5,
        pid: int | None = None,
        host: str | None = None,
        job_file: Path | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.job_file = job_file
        self.path = lock_path(state_dir)
        self.timeout = timeout
        self.pid = os.getpid() if pid is None else pid
        self.host = socket.gethostname() if host is None else host
        self._lock: BaseFileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self, since: datetime | None = None) -> None:
        """Take the lock or raise LockHeldError naming the holder; then record ourselves."""
        from filelock import FileLock, Timeout

        if self._lock is not None:
            raise RuntimeError(f"{self.path} is already held by this RunnerLock")
        lock = FileLock(
            self.path,
            mode=0o600,
            thread_local=False,  # the runner may release from another thread than it took it
            fallback_to_soft=False,  # a soft lock would outlive a killed runner
        )
        try:
            lock.acquire(timeout=self.timeout)
        except Timeout:
            raise LockHeldError(self._held_message()) from None
        except OSError as exc:
            raise StateError(f"cannot take the runner lock {self.path}: {exc}") from exc
        started = (since or datetime.now(UTC)).astimezone(UTC)
        holder = Holder(pid=self.pid, host=self.host, started_at=started.isoformat())
        if self.job_file is not None:
            holder["job_file"] = str(self.job_file)
        try:
            write_private(holder_path(self.state_dir), json.dumps(holder) + "\n")
        except OSError as exc:
            lock.release()
            raise StateError(f"cannot write {holder_path(self.state_dir)}: {exc.strerror}") from exc
        self._lock = lock

    def _held_message(self) -> str:
        holder = read_holder(self.state_dir)
        if holder is None or holder["pid"] is None:
            return f"another runner holds {self.path} (it has not recorded its pid yet)"
        return (
            f"another runner holds {self.path}: pid {holder['pid']} on {holder['host']},"
            f" since {holder['started_at']}"
        )

    def release(self) -> None:
        if self._lock is None:
            return
        # runner.json goes first, while we still hold the lock: afterwards it may be the
        # next runner's.
        try:
            holder_path(self.state_dir).unlink(missing_ok=True)
        finally:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunnerLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (a reader sees the old content or the new, never half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- waking the runner -------------------------------------------------------------------------


def send_wake(state_dir: Path) -> bool:
    """Nudge the runner to look at its controls now. False when no runner listens; the
    request is in the store either way and a runner that starts later will see it."""
    path = wake_socket_path(state_dir)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(b"w", os.fsencode(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return False  # no socket file, or a stale one nobody has bound
        except BlockingIOError:
            return True  # its queue is full: wake-ups are already pending
        except OSError as exc:
            raise StateError(f"cannot wake the runner through {path}: {exc}") from exc
    return True
