"""Helpers the benchmarks share: job files, a runner child process, /proc readings, tables.

Benchmarks measure; they never assert a time. Everything runs in a temporary directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


# -- numbers -------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def summary_ms(seconds: Sequence[float]) -> list[str]:
    """n, median, p90, p99, max of a list of seconds, as milliseconds."""
    if not seconds:
        return ["0", "-", "-", "-", "-"]
    ms = [s * 1000 for s in seconds]
    return [
        str(len(ms)),
        f"{statistics.median(ms):.2f}",
        f"{percentile(ms, 90):.2f}",
        f"{percentile(ms, 99):.2f}",
        f"{max(ms):.2f}",
    ]


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    rows = [list(map(str, r)) for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else f"MISSED by {value - target:.3g} ({value / target:.2f}x)"


# -- job files -----------------------------------------------------------------------------------
def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cronpy_table() -> str:
    """The job file's [cronpy] table: BENCH_PREARM="0s" measures without pre-armed starts
    (the setting's default otherwise), for A/B runs of the same tree."""
    prearm = os.environ.get("BENCH_PREARM")
    return f"[cronpy]\nprearm = {toml_string(prearm)}\n" if prearm else ""


def write_job_file(
    path: Path, jobs: Mapping[str, Mapping[str, str]], defaults: Mapping[str, str] | None = None
) -> Path:
    """A job file with string-valued keys only (all the benchmarks need)."""
    lines: list[str] = [cronpy_table()]
    if defaults:
        lines.append("[defaults]")
        lines += [f"{k} = {toml_string(v)}" for k, v in defaults.items()]
    for name, keys in jobs.items():
        lines.append(f"\n[jobs.{name}]")
        lines += [f"{k} = {toml_string(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the runner as a child process ---------------------------------------------------------------
PYCACHE = Path(tempfile.gettempdir()) / "cronpy-bench-pycache"


def use_bytecode_cache() -> None:
    """Let every process this benchmark starts cache bytecode, as an installed package does.

    A shell with PYTHONDONTWRITEBYTECODE=1 (this project's environment sets it) compiles every
    cronpy module from source at each start, tens of milliseconds that users never pay. The
    cache goes to a directory under /tmp, never into the checkout."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)


def cronpy_command() -> list[str]:
    """The console script next to this interpreter, else ``python -m cronpy``."""
    script = Path(sys.executable).parent / "cronpy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cronpy"]


# The runner without the command line around it: what `cronpy run` costs beyond the runner.
DIRECT = (
    "import sys; from pathlib import Path; from cronpy.runtime.start import run_runner;"
    " sys.exit(run_runner(Path(sys.argv[1]), state_dir=Path(sys.argv[2])))"
)


def metrics_args() -> tuple[str, ...]:
    """``--metrics`` on a free loopback port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return ("--metrics", f"127.0.0.1:{s.getsockname()[1]}")


def runner_argv(
    job_file: Path, state_dir: Path, *, direct: bool = False, extra: Sequence[str] = ()
) -> list[str]:
    if direct:
        return [sys.executable, "-c", DIRECT, str(job_file), str(state_dir)]
    return [*cronpy_command(), "--state-dir", str(state_dir), "run", str(job_file), *extra]


@dataclass
class RunnerProcess:
    """``cronpy --state-dir DIR run FILE`` with its stderr collected line by line
    (``direct``: ``run_runner`` called from ``python -c``, without the command line)."""

    job_file: Path
    state_dir: Path
    direct: bool = False
    extra: Sequence[str] = ()  # more `cronpy run` options, e.g. --metrics
    lines: list[tuple[float, str]] = field(default_factory=list)  # (perf_counter, line)
    started: float = 0.0
    ready_at: float | None = None

    def __post_init__(self) -> None:
        self._ready = threading.Event()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            runner_argv(self.job_file, self.state_dir, direct=self.direct, extra=self.extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            now = time.perf_counter()
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append((now, line))
            if self.ready_at is None and " ready " in f" {line} ":
                self.ready_at = now
                self._ready.set()
        self._ready.set()  # ended without ready: wake the waiter

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from spawning the process to its ``ready`` line."""
        self._ready.wait(timeout)
        if self.ready_at is None:
            self.stop()
            tail = "\n".join(line for _, line in self.lines[-20:])
            raise SystemExit(f"the runner never said ready; its stderr ended with:\n{tail}")
        return self.ready_at - self.started

    def count(self, event: str) -> int:
        token = f" {event} "
        return sum(1 for _, line in self.lines if token in f"{line} ")

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        return code

    def __enter__(self) -> RunnerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def state_db(state_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{state_dir / 'state.db'}?mode=ro", uri=True)


# -- /proc ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcSample:
    at: float  # time.monotonic()
    cpu_ticks: int  # utime + stime, all threads
    voluntary: int  # context switches, summed over threads
    involuntary: int
    rss_kib: int
    hwm_kib: int
    rchar: int | None  # bytes read through read(2) and friends; None without permission
    threads: int


def proc_sample(pid: int) -> ProcSample:
    fields = (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    status = _status(Path(f"/proc/{pid}/status"))
    voluntary = involuntary = 0
    tasks = list(Path(f"/proc/{pid}/task").iterdir())
    for task in tasks:  # a process's status counts only its main thread's switches
        try:
            task_status = _status(task / "status")
        except OSError:
            continue
        voluntary += int(task_status["voluntary_ctxt_switches"])
        involuntary += int(task_status["nonvoluntary_ctxt_switches"])
    try:
        io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        rchar: int | None = int(io["rchar"])
    except OSError:
        rchar = None
    return ProcSample(
        at=time.monotonic(),
        cpu_ticks=ticks,
        voluntary=voluntary,
        involuntary=involuntary,
        rss_kib=int(status["VmRSS"].split()[0]),
        hwm_kib=int(status["VmHWM"].split()[0]),
        rchar=rchar,
        threads=len(tasks),
    )


def _status(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def proc_smaps_rollup(pid: int) -> dict[str, int]:
    """kB figures of /proc/PID/smaps_rollup (Rss, Pss, Private_Dirty, ...)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, value = line.partition(":")
            out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


# -- inotify: who opens the job file -------------------------------------------------------------
_IN_ACCESS = 0x001
_IN_OPEN = 0x020
_IN_NONBLOCK = os.O_NONBLOCK


class FileWatch:
    """Counts opens and reads of one file (by anyone) through inotify, without ptrace."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(_IN_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, str(path).encode(), _IN_OPEN | _IN_ACCESS) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self.opens = 0
        self.reads = 0

    def poll(self) -> tuple[int, int]:
        """(opens, reads) seen so far."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return self.opens, self.reads
            offset = 0
            while offset < len(data):
                _wd, mask, _cookie, length = struct.unpack_from("iIII", data, offset)
                self.opens += bool(mask & _IN_OPEN)
                self.reads += bool(mask & _IN_ACCESS)
                offset += 16 + length

    def close(self) -> None:
        os.close(self.fd)


def hyperfine() -> str | None:
    return shutil.which("hyperfine")
