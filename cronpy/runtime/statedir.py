"""The state directory: where it is, who may read it, the runner lock and the wake-up socket.

Layout of a state directory (mode 0700):
    state.db      the SQLite store (0600)
    logs/         one output file per run (0700)
    runner.lock   flock'ed by the one runner using this directory
    runner.json   who holds the lock: pid, host, since (0600)
    wake.sock     the runner's unix datagram socket; one byte wakes it up
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NotRequired, TypedDict

from cronpy.errors import LockHeldError, StateError
from cronpy.runtime.host import boot_identity
from cronpy.runtime.lock import LockIdentity, flock_exclusive, holder_alive, process_start

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
    loaded_at: NotRequired[str | None]  # when the job file it runs was loaded
    reload_refused: NotRequired[str | None]  # the last reload it refused, when, and why
    job_file: NotRequired[str | None]  # the absolute path of the file it runs (`cronpy edit`)
    store: NotRequired[str | None]  # the shared store it uses (commands here open it too)


# runner.json is written once at this size and then rewritten in place: a runner whose disk is
# full can still say it is degraded (a new file, or a rename, would need free space).
HOLDER_SIZE = 4096


def read_holder(state_dir: Path) -> Holder | None:
    """What the last runner wrote about itself; it may be gone (see ``runner_alive``)."""
    data = _read_holder_record(state_dir)
    if data is None:
        return None
    pid, host, started_at = data.get("pid"), data.get("host"), data.get("started_at")
    return Holder(
        pid=pid if isinstance(pid, int) else None,
        host=host if isinstance(host, str) else None,
        started_at=started_at if isinstance(started_at, str) else None,
        degraded=_text_or_none(data.get("degraded")),
        loaded_at=_text_or_none(data.get("loaded_at")),
        reload_refused=_text_or_none(data.get("reload_refused")),
        job_file=_text_or_none(data.get("job_file")),
        store=_text_or_none(data.get("store")),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _read_holder_record(state_dir: Path) -> dict[str, Any] | None:
    # A rewrite in place may be caught half-way: read again rather than report no holder.
    for _ in range(3):
        try:
            text = holder_path(state_dir).read_text(encoding="utf-8")
            # json here, after the read: a state with no runner.json (never a runner, or one
            # stopped cleanly) is `cronpy status`'s common case and needs no json
            import json

            data = json.loads(text)
        except OSError:
            return None
        except ValueError:
            continue
        return data if isinstance(data, dict) else None
    return None


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
    ) -> None:
        self.state_dir = state_dir
        self.path = lock_path(state_dir)
        self.timeout = timeout
        self.pid = os.getpid() if pid is None else pid
        if host is None:
            import socket  # here and in send_wake: `cronpy status` needs neither

            host = socket.gethostname()
        self.host = host
        self._lock: int | None = None  # the lock file's descriptor, flocked
        self._record: dict[str, Any] = {}
        self._holder_fd: int | None = None
        self.identity: LockIdentity | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    @property
    def loaded_at(self) -> str | None:
        """When the runner loaded the job file it runs (set through ``note``)."""
        value = self._record.get("loaded_at")
        return value if isinstance(value, str) else None

    def acquire(self, since: datetime | None = None) -> None:
        """Take the lock or raise LockHeldError naming the holder; then record ourselves."""
        if self._lock is not None:
            raise RuntimeError(f"{self.path} is already held by this RunnerLock")
        try:
            lock = flock_exclusive(self.path, self.timeout)
        except OSError as exc:
            raise StateError(f"cannot take the runner lock {self.path}: {exc}") from exc
        if lock is None:
            raise LockHeldError(self._held_message())
        # Our flock on a file someone recreated proves nothing: the runner runner.json names
        # may still run, on a lock file that was removed. Its runs are not ours to declare lost.
        previous = _read_holder_record(self.state_dir)
        if previous is not None and holder_alive(previous, host=self.host):
            os.close(lock)
            raise LockHeldError(
                f"runner pid {previous['pid']} on {self.host}, since {previous.get('started_at')},"
                f" still runs on {self.state_dir} although its lock file {self.path} was removed"
                " or replaced; it stops claiming runs once it notices; stop it"
                f" (kill {previous['pid']}) before starting another runner here"
            )
        started = (since or datetime.now(UTC)).astimezone(UTC)
        self._record = {
            "pid": self.pid,
            "host": self.host,
            "started_at": started.isoformat(),
            "proc_start": process_start(self.pid),
            "boot_id": boot_identity()[0],
            "degraded": None,
        }
        path = holder_path(self.state_dir)
        try:
            write_private(path, _padded(self._record))
            self._holder_fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            os.close(lock)
            raise StateError(f"cannot write {path}: {exc.strerror}") from exc
        self.identity = LockIdentity(self.state_dir, self.path)
        self._lock = lock

    def note(self, **fields: str | None) -> None:
        """Change fields of runner.json in place (no new block, no rename: works on a full
        disk). Best effort: what cannot be said is not worth stopping the runner for."""
        if self._holder_fd is None:
            return
        self._record.update(fields)
        with contextlib.suppress(OSError):
            os.pwrite(self._holder_fd, _padded(self._record).encode(), 0)

    def lost(self) -> str | None:
        """Why the lock this runner holds is no longer the one its path names (None: it is)."""
        return None if self.identity is None else self.identity.lost()

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
        # next runner's. Only the file we wrote: under a removed state directory the path
        # may lead to another runner's.
        try:
            if self._holder_fd is not None:
                if _same_file(self._holder_fd, holder_path(self.state_dir)):
                    holder_path(self.state_dir).unlink(missing_ok=True)
                os.close(self._holder_fd)
                self._holder_fd = None
        finally:
            os.close(self._lock)  # drops the flock
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


def _padded(record: dict[str, Any]) -> str:
    """``record`` as JSON padded with spaces to HOLDER_SIZE; long notes are cut to fit."""
    import json

    record = dict(record)
    while True:
        text = json.dumps(record)
        if len(text.encode()) < HOLDER_SIZE:
            return text + " " * (HOLDER_SIZE - 1 - len(text.encode())) + "\n"
        notes = [k for k, v in record.items() if isinstance(v, str) and len(v) > 64]
        if not notes:
            return text + "\n"  # cannot happen with our fields; a longer file is still valid
        longest = max(notes, key=lambda k: len(record[k]))
        record[longest] = record[longest][: len(record[longest]) // 2] + "…"


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


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
    import socket

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
