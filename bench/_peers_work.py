"""The workloads of bench/peers.py, each run against one scheduler at a time.

Every job appends "NAME EPOCH" (the child's own `date +%s.%N`) to one file; lateness is that
minus the due time (the minute or second boundary the record falls after).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _common import percentile
from _peers_systems import Daemon, Job, rss_kib, usage


def records(path: Path) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, when = line.partition(" ")
            try:
                out.append((name, float(when)))
            except ValueError:
                continue
    return out


def sleep_until(epoch: float) -> None:
    while (left := epoch - time.time()) > 0:
        time.sleep(min(left, 0.5))


class RssPeak(threading.Thread):
    """Samples VmRSS every 50 ms while ``sampling`` is set; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.sampling = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            if self.sampling.is_set():
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            time.sleep(0.05)


@dataclass
class Result:
    """What one workload measured on one system (None: not measured)."""

    late: list[float] = field(default_factory=list)  # seconds
    missing: int = 0  # occurrences with no record
    extra: int = 0  # records beyond one per occurrence
    cpu: list[float] = field(default_factory=list)  # per round, seconds
    cpu_children: list[float] = field(default_factory=list)
    rss_mib: float | None = None
    peak_mib: float | None = None
    vcsw_per_min: float | None = None
    loadavg: float | None = None  # the machine's 1-minute load average when it ended
    note: str = ""

    def p(self, q: float) -> float | None:
        return percentile(self.late, q) if self.late else None


WORK_DIRS: list[Path] = []  # removed at the end unless --keep


def new_work(label: str) -> Path:
    work = Path(tempfile.mkdtemp(prefix=f"peers-{label.replace(' ', '-')}-"))
    WORK_DIRS.append(work)
    return work


# -- bursts: N jobs due at the same minute boundary ----------------------------------------------
def bursts(kind: type[Daemon], jobs: int, rounds: int) -> Result:
    work = new_work(kind.label)
    out = work / "out"
    daemon = kind(work)
    daemon.start([Job(f"b{i}", "minute", out) for i in range(jobs)])
    try:
        return _watch_boundaries(daemon, out, jobs, rounds)
    finally:
        daemon.stop()


def _boundaries(ready: float, rounds: int, margin: float = 5.0) -> list[float]:
    first = math.ceil((ready + margin) / 60) * 60
    return [first + 60 * k for k in range(rounds)]


def _watch_boundaries(daemon: Daemon, out: Path, jobs: int, rounds: int) -> Result:
    result = Result()
    peak = RssPeak(daemon.pid)
    peak.start()
    result.rss_mib = rss_kib(daemon.pid) / 1024
    due_times = _boundaries(daemon.started, rounds)
    for due in due_times:
        sleep_until(due - 1.0)
        before = usage(daemon.pid)
        peak.sampling.set()
        _wait_records(out, due, jobs, deadline=due + 50)
        time.sleep(1.0)  # let the daemon reap and record the last ones
        after = usage(daemon.pid)
        peak.sampling.clear()
        result.cpu.append(after.cpu - before.cpu)
        result.cpu_children.append(after.cpu_children - before.cpu_children)
    peak.done.set()
    result.peak_mib = peak.peak_kib / 1024
    result.loadavg = os.getloadavg()[0]
    _score(result, records(out), due_times, jobs, period=60)
    return result


def _wait_records(out: Path, due: float, jobs: int, deadline: float) -> None:
    while time.time() < deadline:
        if sum(1 for _, t in records(out) if due <= t < due + 60) >= jobs:
            return
        time.sleep(0.25)


def _score(
    result: Result, recs: list[tuple[str, float]], dues: list[float], jobs: int, period: int
) -> None:
    """Lateness of each record against the boundary before it; one record per job and due
    time expected."""
    wanted = set(dues)
    seen: Counter[tuple[str, float]] = Counter()
    for name, t in recs:
        due = math.floor(t / period) * period
        if due in wanted:
            seen[(name, due)] += 1
            result.late.append(t - due)
    result.missing = jobs * len(dues) - len(seen)
    result.extra = sum(n - 1 for n in seen.values())


# -- the floor: a bare Popen loop launching the same commands at the boundary --------------------
def floor(jobs: int, rounds: int) -> Result:
    work = new_work("floor")
    out = work / "out"
    commands = [Job(f"b{i}", "minute", out).command() for i in range(jobs)]
    due_times = _boundaries(time.time(), rounds)
    result = Result()
    for due in due_times:
        sleep_until(due)
        procs = [subprocess.Popen(["/bin/sh", "-c", c], start_new_session=True) for c in commands]
        for proc in procs:
            proc.wait()
    _score(result, records(out), due_times, jobs, period=60)
    result.loadavg = os.getloadavg()[0]
    return result


# -- single job: one job alone, at the finest granularity the system has -------------------------
def single(kind: type[Daemon], seconds: float, minute_rounds: int) -> Result:
    work = new_work(kind.label)
    out = work / "out"
    daemon = kind(work)
    if kind.second_level:
        daemon.start([Job("s0", "second", out)])
        try:
            time.sleep(seconds + 3)
            end = time.time()
        finally:
            daemon.stop()
        dues = [float(s) for s in range(math.ceil(daemon.started + 2), math.floor(end - 1))]
        result = Result(note="every second")
        _score(result, records(out), dues, 1, period=1)
        return result
    daemon.start([Job("s0", "minute", out)])
    try:
        result = _watch_boundaries(daemon, out, 1, minute_rounds)
    finally:
        daemon.stop()
    result.note = "every minute"
    return result


# -- idle: N jobs configured, none due -----------------------------------------------------------
def idle(kind: type[Daemon], jobs: int, seconds: float) -> Result:
    work = new_work(kind.label)
    daemon = kind(work)
    daemon.start([Job(f"i{i}", "never", work / "out") for i in range(jobs)])
    try:
        time.sleep(5.0)  # start-up work (first planning, state store set-up) is not idling
        before = usage(daemon.pid)
        time.sleep(seconds)
        after = usage(daemon.pid)
    finally:
        daemon.stop()
    minutes = (after.at - before.at) / 60
    return Result(
        cpu=[after.cpu - before.cpu],
        vcsw_per_min=(after.vcsw - before.vcsw) / minutes,
        rss_mib=after.rss_kib / 1024,
        note=f"{after.threads} threads",
    )


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
