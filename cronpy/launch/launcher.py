"""Starting, watching, capping and stopping job processes: the one owner of child processes.

The runner's event loop owns a selector; the launcher registers each run's pidfd
(readable once the process has exited) and its output pipe on it, with a callable
as the key's data. Exits, output and deadlines are thus handled on the loop's
thread, without helper threads or polling timers.

Every job runs in its own session (``start_new_session``, never ``preexec_fn``,
which would turn off vfork), so a timeout or cancel signals the whole process
group, and the end of a run kills whatever the job left behind in its group.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import re
import selectors
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronpy.model import Job, LaunchRequest, Outcome, Status

_READ_SIZE = 64 * 1024
_TAIL_BYTES = 4096  # of output kept for the history record ...
_TAIL_LINES = 20  # ... of which at most this many lines


class _SpawnError(Exception):
    """A job cannot be started; the message is the precise reason recorded with the run."""


# --- environment files -------------------------------------------------------------------

_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_DOUBLE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*(?:#.*)?')
_SINGLE = re.compile(r"'([^']*)'\s*(?:#.*)?")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}


def parse_env(text: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines as systemd's EnvironmentFile and dotenv files write them.

    Blank lines and lines starting with ``#`` are skipped; ``export`` may prefix a line;
    a value may be wrapped in single quotes (literal) or double quotes (backslash escapes).
    Raises ValueError naming the line for anything else.
    """
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"line {number}: expected KEY=VALUE, got {line!r}")
        key, value = match.groups()
        if value.startswith('"'):
            quoted = _DOUBLE.fullmatch(value)
            if quoted is None:
                raise ValueError(f"line {number}: unterminated double quote in {key}")
            value = _ESCAPE.sub(lambda m: _ESCAPES.get(m[1], m[0]), quoted[1])
        elif value.startswith("'"):
            quoted = _SINGLE.fullmatch(value)
            if quoted is None:
                raise ValueError(f"line {number}: unterminated single quote in {key}")
            value = quoted[1]
        env[key] = value
    return env


def _describe(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def _read_env_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise _SpawnError(f"env_file {path}: {_describe(e)}") from e
    except UnicodeDecodeError as e:
        raise _SpawnError(f"env_file {path}: not UTF-8 text") from e
    try:
        return parse_env(text)
    except ValueError as e:
        raise _SpawnError(f"env_file {path}: {e}") from e


# --- preparing a spawn -------------------------------------------------------------------


@dataclass(frozen=True)
class _Spawn:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    user: pwd.struct_passwd | None


def _lookup_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise _SpawnError(f"user {name!r} does not exist") from None


def _check_cwd(cwd: Path) -> None:
    try:
        mode = os.stat(cwd).st_mode
    except FileNotFoundError:
        raise _SpawnError(f"cwd {cwd} does not exist") from None
    except OSError as e:
        raise _SpawnError(f"cwd {cwd}: {_describe(e)}") from e
    if not stat.S_ISDIR(mode):
        raise _SpawnError(f"cwd {cwd} is not a directory")


def _prepare(req: LaunchRequest) -> _Spawn:
    job = req.job
    argv = job.argv
    if not argv or not argv[0]:
        raise _SpawnError("command is empty")
    # ``user`` needs root to switch to; without root the runner warns and ignores it.
    user = _lookup_user(job.user) if job.user and os.geteuid() == 0 else None
    env = dict(os.environ)
    if user is not None:
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    if job.env_file is not None:
        env.update(_read_env_file(job.env_file))
    env.update(job.env)
    env.update(
        CRONPY_JOB=job.name,
        CRONPY_RUN_ID=str(req.run_id),
        CRONPY_SCHEDULED_AT="" if req.scheduled_at is None else req.scheduled_at.isoformat(),
        CRONPY_ATTEMPT=str(req.attempt),
    )
    env.update(req.extra_env)
    cwd: str | None = None
    if job.cwd is not None:
        _check_cwd(job.cwd)
        cwd = str(job.cwd)
    elif user is not None:
        # As cron does: a job run as another user starts in that user's home.
        cwd = user.pw_dir if os.path.isdir(user.pw_dir) else "/"
    return _Spawn(argv, env, cwd, user)


def _popen_failure(error: OSError | ValueError, job: Job, spawn: _Spawn) -> str:
    """Turn what Popen raised into a reason a person can act on."""
    argv0 = spawn.argv[0]
    if isinstance(error, ValueError):  # e.g. a NUL byte in an argument or variable
        return f"cannot start {argv0!r}: {error}"
    what = "shell" if isinstance(job.command, str) else "command"
    # Popen names the file the child failed on: the executable, the cwd, or none
    # when an earlier step (switching user) failed.
    filename = error.filename
    if spawn.cwd is not None and filename == spawn.cwd:
        return f"cwd {spawn.cwd}: {_describe(error)}"
    if filename == argv0:
        if isinstance(error, FileNotFoundError):
            return f"{what} {argv0!r} not found"
        return f"{what} {argv0!r}: {_describe(error)}"
    if filename is None and spawn.user is not None:
        return f"cannot switch to user {spawn.user.pw_name!r}: {_describe(error)}"
    return f"cannot start {argv0!r}: {_describe(error)}"


# --- output capture ----------------------------------------------------------------------


class _Capture:
    """Writes a run's output to its log, keeping at most ``cap`` bytes: the head and the tail.

    The head goes to the file as it arrives, so a follower sees it live; the tail waits
    in a ring of at most ``cap - cap // 2`` bytes until the run ends, so memory never
    grows with the amount of output.

    The file is created (new, mode 0600) by the first write or at the end, not at start:
    creating a file costs more than a fork here, and a burst of 200 due jobs should not
    wait for 200 file creations before the last one starts. A log that cannot be created
    does not stop the job; ``error`` says why and the history keeps the output's tail.
    """

    def __init__(self, path: Path, cap: int) -> None:
        self._path = path
        self._fd: int | None = None
        self._opened = False
        self.error: str | None = None
        self._head_left = cap // 2
        self._tail_cap = cap - cap // 2
        self._ring = bytearray()
        self._last = b""  # the last _TAIL_BYTES + 1 bytes, for the history record
        self.total = 0
        self.omitted = 0
        self.peak_buffered = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        keep = _TAIL_BYTES + 1
        self._last = data[-keep:] if len(data) >= keep else (self._last + data)[-keep:]
        if self._head_left:
            head = data[: self._head_left]
            self._write(head)
            self._head_left -= len(head)
            data = data[len(head) :]
        if not data:
            return
        if len(data) >= self._tail_cap:
            self.omitted += len(self._ring) + len(data) - self._tail_cap
            self._ring[:] = data[len(data) - self._tail_cap :]
        else:
            self._ring += data
            excess = len(self._ring) - self._tail_cap
            if excess > 0:
                del self._ring[:excess]  # cheap: bytearray moves its start, not its bytes
                self.omitted += excess
        self.peak_buffered = max(self.peak_buffered, len(self._ring))

    def tail_text(self) -> str:
        last = self._last
        if self.total > len(last):
            # The buffer starts mid-line: drop that fragment (the extra byte kept makes a
            # cut exactly after a newline lose nothing).
            cut = last.find(b"\n")
            last = last[cut + 1 :] if cut >= 0 else last[1:]
        lines = last.splitlines(keepends=True)[-_TAIL_LINES:]
        return b"".join(lines).decode("utf-8", errors="replace")

    def _open(self) -> None:
        self._opened = True
        try:
            self._fd = os.open(
                self._path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600
            )
        except OSError as e:
            self.error = f"log file {self._path}: {_describe(e)}"

    def finish(self) -> None:
        if not self._opened:
            self._open()
        if self.omitted:
            self._write(f"\n[cronpy: {self.omitted} bytes omitted]\n".encode())
        self._write(bytes(self._ring))
        self._ring = bytearray()
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        if not self._opened:
            self._open()
        view = memoryview(data)
        while view and self._fd is not None:
            try:
                view = view[os.write(self._fd, view) :]
            except OSError:
                # A full disk must not take the runner down; the log is simply short.
                self.close()


# --- the launcher ------------------------------------------------------------------------


@dataclass(eq=False)
class _Run:
    req: LaunchRequest
    popen: subprocess.Popen[bytes]
    pidfd: int
    pipe: int | None
    capture: _Capture
    due: float | None  # when check_deadlines must act next: the timeout, then SIGKILL
    ending: Status | None = None  # TIMED_OUT or CANCELLED once we began stopping it
    reason: str | None = None


def _killpg(pgid: int, sig: int) -> None:
    # Nothing left to signal, or nothing we may signal: either way nothing more to do.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _has_exited(pid: int) -> bool:
    """True once ``pid`` (our unreaped child) has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class Launcher:
    def __init__(
        self, selector: selectors.BaseSelector, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._selector = selector
        self._monotonic = monotonic
        self._runs: dict[int, _Run] = {}
        self._outcomes: list[Outcome] = []
        # Groups of ended runs that may still hold orphans reparented to us (when the
        # runner is PID 1 in a container, or a subreaper); reaped as they die.
        self._orphan_groups: set[int] = set()
        self.peak_buffered = 0  # most tail bytes one run ever held in memory

    @property
    def running(self) -> Mapping[int, int]:
        return {run_id: run.popen.pid for run_id, run in self._runs.items()}

    def start(self, req: LaunchRequest) -> int | Outcome:
        """Start the job; its pid, or an Outcome(SPAWN_ERROR) saying precisely why it could not."""
        capture = _Capture(req.log_path, req.job.keep.output)
        try:
            spawn = _prepare(req)
        except _SpawnError as e:
            return self._spawn_error(req, str(e), capture)
        try:
            read_end, write_end = os.pipe()
        except OSError as e:  # out of descriptors: the runner's trouble, but this run's outcome
            return self._spawn_error(req, f"cannot create output pipe: {_describe(e)}", capture)
        try:
            popen = subprocess.Popen(
                spawn.argv,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=subprocess.STDOUT,
                close_fds=True,
                start_new_session=True,
                env=spawn.env,
                cwd=spawn.cwd,
                **_user_args(spawn.user),
            )
        except (OSError, ValueError) as e:
            os.close(read_end)
            return self._spawn_error(req, _popen_failure(e, req.job, spawn), capture)
        finally:
            os.close(write_end)
        try:
            pidfd = os.pidfd_open(popen.pid)
        except OSError as e:  # out of descriptors: we could never see it end, so end it now
            _killpg(popen.pid, signal.SIGKILL)
            popen.wait()
            os.close(read_end)
            return self._spawn_error(req, f"cannot watch pid {popen.pid}: {_describe(e)}", capture)
        os.set_blocking(read_end, False)
        timeout = req.job.timeout
        started = self._monotonic()
        run = _Run(
            req, popen, pidfd, read_end, capture, None if timeout is None else started + timeout
        )
        self._runs[req.run_id] = run
        self._selector.register(pidfd, selectors.EVENT_READ, functools.partial(self._on_exit, run))
        self._selector.register(
            read_end, selectors.EVENT_READ, functools.partial(self._on_output, run)
        )
        return popen.pid

    def stop(self, run_id: int, reason: str, grace: float | None = None) -> None:
        """SIGTERM the run's process group now and SIGKILL it after ``grace`` (default kill_grace).

        A run that already ended, or is not ours, is left alone.
        """
        run = self._runs.get(run_id)
        if run is not None:
            self._begin_stop(run, Status.CANCELLED, reason, grace)

    def stop_all(self, reason: str, grace: float) -> None:
        for run in list(self._runs.values()):
            self._begin_stop(run, Status.CANCELLED, reason, grace)

    def next_deadline(self) -> float | None:
        dues = [run.due for run in self._runs.values() if run.due is not None]
        return min(dues, default=None)

    def check_deadlines(self) -> None:
        now = self._monotonic()
        for run in list(self._runs.values()):
            if run.due is None or run.due > now:
                continue
            if run.ending is None:
                timeout = run.req.job.timeout
                self._begin_stop(run, Status.TIMED_OUT, f"timeout of {timeout:g}s exceeded", None)
            else:
                _killpg(run.popen.pid, signal.SIGKILL)
                run.due = None

    def drain(self) -> list[Outcome]:
        outcomes, self._outcomes = self._outcomes, []
        return outcomes

    @property
    def orphan_groups(self) -> int:
        """How many ended runs' groups may still hold leftovers for reap_orphans()."""
        return len(self._orphan_groups)

    def reap_orphans(self) -> None:
        """Reap dead leftovers of ended runs that were reparented to this process.

        Only matters when the runner is PID 1 or a subreaper (otherwise init reaps them):
        call it on SIGCHLD. Each run end does it too.
        """
        self._reap_orphans()

    # --- internals ---

    def _begin_stop(self, run: _Run, status: Status, reason: str, grace: float | None) -> None:
        now = self._monotonic()
        grace = run.req.job.kill_grace if grace is None else grace
        if run.ending is not None:
            # Already being stopped: the first cause names the outcome, a shorter grace wins.
            if run.due is not None:
                run.due = min(run.due, now + grace)
            return
        if _has_exited(run.popen.pid):
            run.due = None  # it ended on its own; the pidfd event reports how
            return
        run.ending, run.reason = status, reason
        _killpg(run.popen.pid, signal.SIGTERM)
        if grace > 0:
            run.due = now + grace
        else:
            _killpg(run.popen.pid, signal.SIGKILL)
            run.due = None

    def _on_output(self, run: _Run, mask: int = selectors.EVENT_READ) -> None:
        self._read(run, drain=False)

    def _read(self, run: _Run, *, drain: bool) -> None:
        while run.pipe is not None:
            try:
                data = os.read(run.pipe, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # every writer closed it; the run goes on until the process exits
                self._selector.unregister(run.pipe)
                os.close(run.pipe)
                run.pipe = None
                return
            run.capture.feed(data)
            if not drain:
                return  # one read per wake-up keeps a chatty job from starving the loop

    def _on_exit(self, run: _Run, mask: int = selectors.EVENT_READ) -> None:
        pid = run.popen.pid
        # The run ends when its main process does. Whatever it left in its process group
        # (`cmd &`, a forgotten daemon) is killed now, as systemd does with a service's
        # cgroup: otherwise it would outlive the run, hold the output pipe open and escape
        # timeouts. The main process is an unreaped zombie at this point, so its pid - the
        # group's id - cannot have been reused: signalling the group is race-free.
        _killpg(pid, signal.SIGKILL)
        self._read(run, drain=True)
        if run.pipe is not None:
            self._selector.unregister(run.pipe)
            os.close(run.pipe)
            run.pipe = None
        returncode = run.popen.wait()
        self._selector.unregister(run.pidfd)
        os.close(run.pidfd)
        run.capture.finish()
        self.peak_buffered = max(self.peak_buffered, run.capture.peak_buffered)
        del self._runs[run.req.run_id]
        self._outcomes.append(self._outcome(run, returncode))
        self._orphan_groups.add(pid)
        self._reap_orphans()

    def _outcome(self, run: _Run, returncode: int) -> Outcome:
        exit_code = returncode if returncode >= 0 else None
        sig = -returncode if returncode < 0 else None
        if run.ending is not None:
            status = run.ending
        elif sig is not None:
            status = Status.KILLED
        elif returncode in run.req.job.success_codes:
            status = Status.SUCCEEDED
        else:
            status = Status.FAILED
        return Outcome(
            run_id=run.req.run_id,
            status=status,
            exit_code=exit_code,
            signal=sig,
            output_tail=run.capture.tail_text(),
            reason=run.reason or run.capture.error,
            pid=run.popen.pid,
            ended_monotonic=self._monotonic(),
        )

    def _reap_orphans(self) -> None:
        # waitid(P_PGID) touches only the ended runs' groups, never another child of the
        # runner. A group stays listed while one of our children in it lives, which also
        # keeps its id from being reused before we drop it.
        for pgid in list(self._orphan_groups):
            while True:
                try:
                    if os.waitid(os.P_PGID, pgid, os.WEXITED | os.WNOHANG) is None:
                        break
                except ChildProcessError:
                    self._orphan_groups.discard(pgid)
                    break

    def _spawn_error(
        self, req: LaunchRequest, reason: str, capture: _Capture | None = None
    ) -> Outcome:
        if capture is not None:  # so `cronpy logs` of this run says what went wrong
            capture.feed(f"[cronpy: cannot start: {reason}]\n".encode())
            capture.finish()
        return Outcome(
            run_id=req.run_id,
            status=Status.SPAWN_ERROR,
            exit_code=None,
            signal=None,
            output_tail="",
            reason=reason,
            pid=None,
            ended_monotonic=self._monotonic(),
        )


def _user_args(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """Popen arguments that switch to ``user``, supplementary groups included.

    Popen's ``user=`` alone would keep root's groups. (Switching identity makes Popen
    fork instead of vfork; only jobs with ``user`` pay that.)
    """
    if user is None:
        return {}
    return {
        "user": user.pw_uid,
        "group": user.pw_gid,
        "extra_groups": os.getgrouplist(user.pw_name, user.pw_gid),
    }
