"""bench/peers.py's two longer measurements: output at speed (cronpy alone) and sustained
throughput (the largest N of jobs every second a scheduler keeps up with)."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

from _common import percentile
from _peers_systems import Cronpy, Daemon, Job, usage
from _peers_work import RssPeak, new_work, records


# -- output at speed -----------------------------------------------------------------------------
@dataclass
class Output:
    size: str
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    seconds: float  # the run's started_at -> ended_at, as cronpy recorded it
    cat_seconds: float  # the same pipeline into `cat > /dev/null`
    status: str


def output_at_speed(size: str) -> Output:
    """A cronpy job printing ``size`` bytes, started by `cronpy trigger`; the runner's RSS
    before, at its peak during the run, and after; beside the same bytes piped to cat."""
    producer = f"yes | head -c {size}"
    work = new_work("output")
    daemon = Cronpy(work)
    daemon.start_toml(
        '[defaults]\nshell = "/bin/sh"\n\n[jobs.big]\nschedule = "0 0 1 1 *"\n'
        f'command = "{producer}"\ntimeout = "10m"\n'
    )
    try:
        time.sleep(2.0)
        before = usage(daemon.pid)
        peak = RssPeak(daemon.pid)
        peak.sampling.set()
        peak.start()
        daemon.trigger("big")
        state = sqlite3.connect(f"file:{daemon.state / 'state.db'}?mode=ro", uri=True)
        deadline = time.monotonic() + 600
        while (row := _run_row(state)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        after = usage(daemon.pid)
        peak.done.set()
        state.close()
    finally:
        daemon.stop()
    if row is None:
        raise SystemExit("the 1 GB job did not finish within 10 minutes")
    status, started_us, ended_us = row
    began = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", f"{producer} | cat > /dev/null"], check=True)
    cat_seconds = time.perf_counter() - began
    return Output(
        size=size,
        rss_before_mib=before.rss_kib / 1024,
        rss_peak_mib=max(peak.peak_kib, after.rss_kib) / 1024,
        rss_after_mib=after.rss_kib / 1024,
        seconds=(ended_us - started_us) / 1e6,
        cat_seconds=cat_seconds,
        status=status,
    )


def _run_row(state: sqlite3.Connection) -> tuple[str, int, int] | None:
    row = state.execute(
        "SELECT status, started_at, ended_at FROM runs WHERE job = 'big' AND ended_at IS NOT NULL"
    ).fetchone()
    return row  # type: ignore[no-any-return]


# -- sustained throughput ------------------------------------------------------------------------
@dataclass
class Trial:
    n: int
    seconds: float
    p99: float | None
    missing: int
    extra: int

    @property
    def ok(self) -> bool:
        return self.p99 is not None and self.p99 < 1.0 and not self.missing and not self.extra

    def __str__(self) -> str:
        p99 = "-" if self.p99 is None else f"{self.p99 * 1000:.0f} ms"
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"N={self.n:<5} {self.seconds:.0f} s  p99 {p99}  missing {self.missing}"
            f"  doubled {self.extra}  {verdict}"
        )


def trial(kind: type[Daemon], n: int, seconds: float) -> Trial:
    """N jobs every second for ``seconds``; every (job, second) in the window [start+5 s,
    end-2 s) must have exactly one record. A record more than 1 s late lands in the next
    second's bucket, so it shows as one missing and one doubled: a failure either way."""
    work = new_work(kind.label)
    out = work / "out"
    daemon = kind(work)
    daemon.start([Job(f"t{i}", "second", out) for i in range(n)])
    try:
        time.sleep(seconds + 7)
        end = time.time()
    finally:
        daemon.stop()
    first, last = math.ceil(daemon.started + 5), math.floor(end - 2)
    seen: Counter[tuple[str, int]] = Counter()
    late: list[float] = []
    for name, t in records(out):
        second = math.floor(t)
        if first <= second < last:
            seen[(name, second)] += 1
            late.append(t - second)
    expected = n * (last - first)
    return Trial(
        n=n,
        seconds=last - first,
        p99=percentile(late, 99) if late else None,
        missing=expected - len(seen),
        extra=sum(c - 1 for c in seen.values()),
    )


def search(kind: type[Daemon], start: int, trial_s: float, confirm_s: float, budget_s: float,
           log: list[str]) -> tuple[int, list[Trial]]:  # fmt: skip
    """Doubling from ``start`` until a trial fails, then bisection, within ``budget_s``; the
    best N is then confirmed by one longer trial (stepping down by a fifth if it fails)."""
    deadline = time.monotonic() + budget_s
    lo, hi, n = 0, None, start
    trials: list[Trial] = []
    while time.monotonic() + trial_s + 15 < deadline:
        t = trial(kind, n, trial_s)
        trials.append(t)
        log.append(f"{kind.label}: {t}")
        print(f"  {kind.label}: {t}", flush=True)
        if t.ok:
            lo = n
        else:
            hi = n
        if hi is None:
            n *= 2
        elif hi - lo <= max(5, lo // 10):
            break
        else:
            n = (lo + hi) // 2
    while lo > 0:
        t = trial(kind, lo, confirm_s)
        trials.append(t)
        log.append(f"{kind.label} (confirm): {t}")
        print(f"  {kind.label} (confirm): {t}", flush=True)
        if t.ok:
            break
        lo = lo * 4 // 5
    return lo, trials
