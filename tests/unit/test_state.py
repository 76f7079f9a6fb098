"""The state directory: where it is, its modes, the runner lock and the wake-up socket."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import platformdirs
import pytest

from cronpy.errors import LockHeldError, StateError
from cronpy.runtime.statedir import (
    HOLDER_SIZE,
    RunnerLock,
    db_path,
    ensure_state_dir,
    holder_path,
    lock_path,
    logs_dir,
    read_holder,
    resolve_state_dir,
    runner_alive,
    send_wake,
    wake_socket_path,
)

SINCE = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- where the state lives ---------------------------------------------------------------------


def test_option_beats_environment_beats_default(tmp_path: Path) -> None:
    env = {"CRONPY_STATE_DIR": str(tmp_path / "from-env")}
    assert resolve_state_dir(str(tmp_path / "opt"), environ=env) == tmp_path / "opt"
    assert resolve_state_dir(None, environ=env, euid=0) == tmp_path / "from-env"
    assert resolve_state_dir(None, environ={}, euid=0) == Path("/var/lib/cronpy")
    assert resolve_state_dir(None, environ={"CRONPY_STATE_DIR": ""}, euid=0) == Path(
        "/var/lib/cronpy"
    )
    user = resolve_state_dir(None, environ={}, euid=1000)
    assert user == Path(platformdirs.user_state_dir("cronpy")).absolute()


def test_state_dir_is_absolute_and_expands_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_state_dir("rel/state", environ={}) == tmp_path / "rel" / "state"
    assert resolve_state_dir("~/st", environ={}) == tmp_path / "home" / "st"
    assert resolve_state_dir(None, environ={"CRONPY_STATE_DIR": "x"}) == tmp_path / "x"


def test_paths_in_the_state_dir(tmp_path: Path) -> None:
    assert db_path(tmp_path) == tmp_path / "state.db"
    assert logs_dir(tmp_path) == tmp_path / "logs"
    assert wake_socket_path(tmp_path) == tmp_path / "wake.sock"
    assert lock_path(tmp_path) == tmp_path / "runner.lock"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_ensure_state_dir_creates_private_dirs(tmp_path: Path, loose_umask: None) -> None:
    state = tmp_path / "a" / "b" / "state"
    assert ensure_state_dir(state) == state
    assert mode(state) == 0o700
    assert mode(state / "logs") == 0o700


def test_ensure_state_dir_tightens_an_open_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    state.chmod(0o755)
    (state / "logs").chmod(0o777)
    ensure_state_dir(state)
    assert (mode(state), mode(state / "logs")) == (0o700, 0o700)


def test_a_file_in_the_way_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("")
    with pytest.raises(StateError, match=r"state directory .*state exists and is not a directory"):
        ensure_state_dir(blocker)
    with pytest.raises(StateError, match=r"cannot create the state directory .*state/sub"):
        ensure_state_dir(blocker / "sub")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may create directories anywhere")
def test_an_unwritable_parent_is_a_state_error(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o500)
    try:
        with pytest.raises(StateError, match="Permission denied"):
            ensure_state_dir(parent / "state")
    finally:
        parent.chmod(0o700)


# -- the runner lock ---------------------------------------------------------------------------

HOLD_LOCK = """
import subprocess, sys
from datetime import UTC, datetime
from pathlib import Path
from cronpy.runtime.statedir import RunnerLock
lock = RunnerLock(Path(sys.argv[1]), host="other-host")
lock.acquire(datetime(2026, 3, 1, 8, 30, tzinfo=UTC))
# a job the runner started, which outlives it
child = subprocess.Popen(["sleep", "60"], start_new_session=True)
print(child.pid, flush=True)
sys.stdin.read()
"""

TRY_LOCK = """
import sys
from pathlib import Path
from cronpy.errors import LockHeldError
from cronpy.runtime.statedir import RunnerLock
try:
    RunnerLock(Path(sys.argv[1]), timeout=0).acquire()
except LockHeldError as exc:
    print(exc)
    sys.exit(exc.exit_code)
print("acquired")
"""


def python(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", code, *args], text=True, **kw
    )


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Another process holding the lock of tmp_path, and the pid of the job it started."""
    proc = python(HOLD_LOCK, str(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    yield proc, child
    for pid in (proc.pid, child):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def try_lock(state_dir: Path) -> tuple[int, str]:
    proc = python(TRY_LOCK, str(state_dir), stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out.strip()


def test_a_second_runner_is_refused_and_told_who_holds_the_lock(
    tmp_path: Path, holder: tuple[subprocess.Popen[str], int]
) -> None:
    proc, _ = holder
    code, message = try_lock(tmp_path)
    assert code == LockHeldError.exit_code == 2
    assert message == (
        f"another runner holds {tmp_path / 'runner.lock'}: pid {proc.pid} on other-host,"
        f" since {SINCE.isoformat()}"
    )
    with pytest.raises(LockHeldError, match=f"pid {proc.pid} on other-host"):
        RunnerLock(tmp_path, timeout=0).acquire()


def test_the_lock_dies_with_its_process_even_if_its_jobs_live_on(
    tmp_path: Path, holder: tuple[subprocess.Popen[str], int]
) -> None:
    proc, child = holder
    assert runner_alive(tmp_path) is not None
    proc.kill()
    proc.wait()
    os.kill(child, 0)  # the job is still running ...
    assert runner_alive(tmp_path) is None  # ... but it does not hold the lock
    assert read_holder(tmp_path) is not None  # the dead runner's note is left behind
    assert try_lock(tmp_path) == (0, "acquired")


def test_holder_note_is_written_private_and_removed_on_release(tmp_path: Path) -> None:
    lock = RunnerLock(tmp_path, pid=1234, host="here")
    assert runner_alive(tmp_path) is None  # never started: no lock file at all
    lock.acquire(SINCE)
    try:
        assert lock.held
        assert mode(holder_path(tmp_path)) == 0o600
        assert mode(lock_path(tmp_path)) == 0o600
        expected = {"pid": 1234, "host": "here", "started_at": SINCE.isoformat()}
        written = json.loads(holder_path(tmp_path).read_text())
        assert written.items() >= expected.items()
        # preallocated: later notes are rewritten in place, which works on a full disk
        assert holder_path(tmp_path).stat().st_size == HOLDER_SIZE
        notes = {
            "degraded": None,
            "loaded_at": None,
            "reload_refused": None,
            "job_file": None,
            "store": None,
        }
        assert read_holder(tmp_path) == {**expected, **notes}
        assert runner_alive(tmp_path) == {**expected, **notes}
        inode = holder_path(tmp_path).stat().st_ino
        lock.note(degraded="state writes failing (x" + "y" * 9000 + ")")
        assert holder_path(tmp_path).stat().st_ino == inode  # the same file, not a new one
        assert holder_path(tmp_path).stat().st_size == HOLDER_SIZE
        assert (read_holder(tmp_path) or {}).get("degraded", "").startswith("state writes failing")
    finally:
        lock.release()
    assert not lock.held
    assert not holder_path(tmp_path).exists()
    assert read_holder(tmp_path) is None
    assert runner_alive(tmp_path) is None
    lock.release()  # twice is harmless


def test_lock_as_a_context_manager(tmp_path: Path) -> None:
    with RunnerLock(tmp_path) as lock:
        holder = runner_alive(tmp_path)
        assert holder is not None and holder["pid"] == os.getpid()
        assert lock.held
    assert runner_alive(tmp_path) is None


def test_a_held_lock_without_a_note_yet(tmp_path: Path) -> None:
    lock_path(tmp_path).touch()
    with open(lock_path(tmp_path)) as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # a runner in the instant before it writes runner.json
        assert runner_alive(tmp_path) == {"pid": None, "host": None, "started_at": None}
        with pytest.raises(LockHeldError, match="has not recorded its pid yet"):
            RunnerLock(tmp_path, timeout=0).acquire()


def test_probes_do_not_block_each_other_and_a_starting_runner_waits_them_out(
    tmp_path: Path,
) -> None:
    lock_path(tmp_path).touch()
    with open(lock_path(tmp_path)) as probe:
        fcntl.flock(probe, fcntl.LOCK_SH)  # a `cronpy status` probing right now
        assert runner_alive(tmp_path) is None  # a second probe is not fooled by the first
        release = threading.Timer(0.05, fcntl.flock, (probe, fcntl.LOCK_UN))
        release.start()
        lock = RunnerLock(tmp_path, timeout=5)
        lock.acquire()
        release.join()
    assert lock.held
    lock.release()


def test_the_runner_lock_and_filelock_exclude_each_other(tmp_path: Path) -> None:
    """The runner lock is a plain flock now, no longer taken through filelock: a runner of
    the earlier kind (filelock on the same file) and a runner of this one still exclude each
    other, in both directions, during an upgrade."""
    from filelock import FileLock, Timeout

    older = FileLock(lock_path(tmp_path), mode=0o600)
    with older:
        with pytest.raises(LockHeldError):
            RunnerLock(tmp_path, timeout=0.1).acquire()
        assert runner_alive(tmp_path) is not None
    with RunnerLock(tmp_path), pytest.raises(Timeout):
        FileLock(lock_path(tmp_path)).acquire(timeout=0.1)
    assert mode(lock_path(tmp_path)) == 0o600


def test_a_lock_file_replaced_before_the_flock_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the lock file, then getting the flock on it after someone removed it and made
    another, holds nothing anyone sees: the lock is taken on the file the path names now."""
    path = lock_path(tmp_path)
    real_flock = fcntl.flock
    replaced: list[bool] = []

    def flock_after_a_replace(fd: int, operation: int) -> None:
        if not replaced:  # between our open and our flock, the first time only
            replaced.append(True)
            path.unlink()
            path.touch(mode=0o600)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_a_replace)
    with RunnerLock(tmp_path, timeout=5):
        monkeypatch.setattr(fcntl, "flock", real_flock)
        assert replaced
        assert runner_alive(tmp_path) is not None  # a probe of the path sees the runner


def test_a_garbled_note_reads_as_none(tmp_path: Path) -> None:
    holder_path(tmp_path).write_text("{not json")
    assert read_holder(tmp_path) is None
    holder_path(tmp_path).write_text("[1, 2]")
    assert read_holder(tmp_path) is None


# -- waking the runner -------------------------------------------------------------------------


def test_send_wake_without_a_listener(tmp_path: Path) -> None:
    assert send_wake(tmp_path) is False
    # a socket file left by a runner that died: nobody is bound to it
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(wake_socket_path(tmp_path)))
    stale.close()
    assert wake_socket_path(tmp_path).exists()
    assert send_wake(tmp_path) is False


def test_send_wake_reaches_a_bound_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(wake_socket_path(tmp_path)))
        assert send_wake(tmp_path) is True
        listener.settimeout(5)
        assert len(listener.recv(16)) == 1


def test_send_wake_to_a_full_queue_still_counts(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(wake_socket_path(tmp_path)))
        sent = [send_wake(tmp_path) for _ in range(2000)]  # nobody reads: the queue fills
        assert all(sent)
