"""Harness for the end-to-end suite: start real ``cronpy run`` processes and watch them.

Each runner gets its own state directory and a unique ``CRONPY_E2E_TAG`` in its environment.
Every job and hook process inherits the tag, so a finalizer can find (and must not find) any
process a test left behind, and checks never confuse this test's run 1 with another's.

Waiting is always a deadline loop polling the SQLite state or the runner's ``--log-format
json`` event lines: a fixed sleep is never what a test asserts on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

VENV_BIN = Path(sys.executable).parent
CRONPY = str(VENV_BIN / "cronpy")
REPO = Path(__file__).resolve().parents[2]
TAG_VAR = "CRONPY_E2E_TAG"
WAIT = 15.0  # the longest any single wait may take: generous, never the expected duration
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# What the fault-injection tests checked, printed at the end of the session.
FAULT_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FAULT_REPORT:
        terminalreporter.section("fault injection")
        for line in FAULT_REPORT:
            terminalreporter.write_line(line)


# -- small helpers ---------------------------------------------------------------------------


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = WAIT,
    what: str = "condition",
    interval: float = 0.05,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{diagnose()}" if diagnose is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{extra}")
        time.sleep(interval)


def us_to_dt(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def dt_to_us(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def processes(tag: str, *entries: str) -> list[int]:
    """Live (non-zombie) processes whose environment has ``TAG_VAR=tag`` and every entry."""
    wanted = {f"{TAG_VAR}={tag}".encode(), *(e.encode() for e in entries)}
    found: list[int] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if state != "Z" and wanted <= environ:
            found.append(int(proc.name))
    return found


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a daemon is not our child to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def read_runs(state_dir: Path, job: str | None = None) -> list[dict[str, Any]]:
    """The runs table straight from state.db (timestamps stay INTEGER microseconds), by id."""
    db = state_dir / "state.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        sql = "SELECT * FROM runs" + (" WHERE job = ?" if job else "") + " ORDER BY id"
        return [dict(r) for r in conn.execute(sql, (job,) if job else ())]
    except sqlite3.OperationalError:
        return []  # the runner has not created the schema yet
    finally:
        conn.close()


def utc_iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


# -- the runner handle -----------------------------------------------------------------------


@dataclass
class Runner:
    """One ``cronpy run`` process: its stderr event lines, its state, and ways to stop it."""

    proc: subprocess.Popen[bytes]
    env: Mapping[str, str]
    state_dir: Path
    job_file: Path
    tag: str
    started_at: datetime
    lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def events(self, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Parsed ``--log-format json`` lines, optionally only ``name`` events with fields."""
        with self._lock:
            lines = list(self.lines)
        found = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if name is not None and event.get("event") != name:
                continue
            if all(event.get(k) == v for k, v in match.items()):
                found.append(event)
        return found

    def diagnose(self) -> str:
        code = self.proc.poll()
        tail = "\n".join(self.lines[-25:])
        runs = read_runs(self.state_dir)[-10:]
        return f"runner pid {self.pid} exit={code}\nstderr tail:\n{tail}\nlast runs: {runs}"

    def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = WAIT, what: str = ""
    ) -> T:
        return wait_for(predicate, timeout, what or "condition", diagnose=self.diagnose)

    def wait_event(self, name: str, timeout: float = WAIT, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            events = self.events(name, **match)
            return events[0] if events else None

        return self.wait_for(found, timeout, f"event {name} {match}")

    def wait_ready(self) -> None:
        self.wait_event("ready")

    def db_runs(self, job: str | None = None) -> list[dict[str, Any]]:
        return read_runs(self.state_dir, job)

    def wait_runs(
        self,
        job: str,
        count: int = 1,
        timeout: float = WAIT,
        *,
        scheduled_after: int | None = None,
        **match: Any,
    ) -> list[dict[str, Any]]:
        """Wait until ``job`` has ``count`` runs whose DB columns equal ``match`` (and, if given,
        scheduled after that many microseconds since the epoch); return them, oldest first.
        ``status="running"`` waits for the command to have started (its pid is recorded): a
        pre-armed run is claimed, as running, ~50 ms before its release."""
        started = match.get("status") == "running" and "pid" not in match

        def enough() -> list[dict[str, Any]] | None:
            rows = [
                r
                for r in self.db_runs(job)
                if all(r.get(k) == v for k, v in match.items())
                and (scheduled_after is None or (r["scheduled_at"] or 0) > scheduled_after)
                and (not started or r["pid"])
            ]
            return rows if len(rows) >= count else None

        what = f"{count} run(s) of {job} with {match}, scheduled after {scheduled_after}"
        return self.wait_for(enough, timeout, what)

    def cli(self, *args: str, timeout: float = 30, check: int | None = None) -> Cli:
        return run_cli(self.env, *args, timeout=timeout, check=check)

    def runs(self, job: str | None = None) -> list[dict[str, Any]]:
        """``cronpy history [JOB] --json``: runs newest first, as a user's script sees them."""
        args = ["history", *([job] if job else []), "--json", "-n", "100000"]
        result = self.cli(*args, check=0)
        document = json.loads(result.stdout)
        runs: list[dict[str, Any]] = document["runs"]
        return runs

    def send(self, sig: int) -> None:
        if self.alive:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        """Send ``sig`` and wait for the runner to exit; its exit code."""
        self.send(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"runner did not exit within {timeout:g}s of signal {sig}\n{self.diagnose()}"
            ) from None

    def wait_exit(self, timeout: float = WAIT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runner still up after {timeout:g}s\n{self.diagnose()}") from None


@dataclass(frozen=True)
class Cli:
    code: int
    stdout: str
    stderr: str


def run_cli(
    env: Mapping[str, str], *args: str, timeout: float = 30, check: int | None = None
) -> Cli:
    done = subprocess.run(
        [CRONPY, *args],
        env=dict(env),
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    result = Cli(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
    if check is not None and result.code != check:
        raise AssertionError(
            f"cronpy {' '.join(args)} exited {result.code}, expected {check}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


# -- the environment of one test -------------------------------------------------------------


class E2E:
    """A state directory, a job file and the runners started on them; ``close`` cleans up."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir = root / "state"
        self.job_file = root / "jobs.toml"
        self.tag = uuid.uuid4().hex
        self.env: dict[str, str] = {
            **os.environ,
            "CRONPY_STATE_DIR": str(self.state_dir),
            TAG_VAR: self.tag,
            "NO_COLOR": "1",
        }
        for var in ("CRONPY_FAULT", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
            self.env.pop(var, None)
        self.runners: list[Runner] = []
        self.extra_pids: list[int] = []  # daemons: not our children

    def write_jobs(self, text: str, path: Path | None = None) -> Path:
        """Write the job file atomically: a runner rereading it never sees half a file."""
        target = path or self.job_file
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return target

    def start(
        self,
        jobs: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        job_file: Path | None = None,
        wait_ready: bool = True,
        umask: int = -1,
    ) -> Runner:
        if jobs is not None:
            self.write_jobs(jobs)
        path = job_file or self.job_file
        full_env = {**self.env, **(env or {})}
        proc = subprocess.Popen(
            [CRONPY, "run", str(path), "--log-format", "json", *args],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
            umask=umask,
        )
        runner = Runner(proc, full_env, self.state_dir, path, self.tag, datetime.now(UTC))
        threading.Thread(target=runner._read_stderr, daemon=True).start()
        self.runners.append(runner)
        if wait_ready:
            runner.wait_ready()
        return runner

    def cli(self, *args: str, timeout: float = 30, check: int | None = None) -> Cli:
        return run_cli(self.env, *args, timeout=timeout, check=check)

    def leftovers(self, *entries: str) -> list[int]:
        return processes(self.tag, *entries)

    def close(self) -> None:
        """Stop every runner (SIGTERM, then SIGKILL), then insist nothing they started lives."""
        for runner in self.runners:
            if runner.alive:
                runner.proc.send_signal(signal.SIGTERM)
                try:
                    runner.proc.wait(10)
                except subprocess.TimeoutExpired:
                    runner.proc.kill()
                    runner.proc.wait(5)
            if runner.proc.stderr is not None:
                runner.proc.stderr.close()
        for pid in self.extra_pids:
            if pid_alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not any(pid_alive(p) for p in self.extra_pids), 10, "daemons")
        # A runner that was SIGKILLed on purpose may leave its jobs behind for the next runner
        # to clean up (tests check that separately); here every survivor is a failure.
        survivors: list[int] = []
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not self.leftovers(), 5, "job processes to end")
        survivors = self.leftovers()
        for pid in survivors:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in self.extra_pids:
            if pid_alive(pid):
                survivors.append(pid)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        assert not survivors, f"processes outlived the test: {describe(survivors)}"


def describe(pids: Sequence[int]) -> str:
    parts = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            cmd = "?"
        parts.append(f"{pid}: {cmd.strip()}")
    return "; ".join(parts) or "none"


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2E]:
    env = E2E(tmp_path / "e2e")
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def cronpy_runner(e2e: E2E) -> Callable[..., Runner]:
    """Start a runner on a job file given as text: ``cronpy_runner(JOBS_TOML, **options)``."""
    return e2e.start
