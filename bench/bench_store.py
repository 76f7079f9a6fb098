"""Store latency against DESIGN §10: recording a finished run (p99 ≤ 1 ms) and reading a job's
history out of 1,000,000 stored runs.

Usage: .venv/bin/python bench/bench_store.py [--rows N] [--records N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronpy.model import Finish, JobState, Status, Trigger
from cronpy.store.sqlite import SqliteStore
from cronpy.store.sqlite.rows import to_us

T0 = datetime(2026, 1, 1, tzinfo=UTC)
JOBS = 100
BURST = 200  # runs recorded between two idle moments
FINISHED = [Status.SUCCEEDED] * 17 + [Status.FAILED, Status.SKIPPED, Status.TIMED_OUT]


def percentiles(samples_ns: list[int]) -> tuple[float, float, float]:
    """median, p99, max in milliseconds"""
    ms = sorted(s / 1e6 for s in samples_ns)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return statistics.median(ms), p99, ms[-1]


def timed(n: int, fn: Callable[[int], object], start: int = 0) -> list[int]:
    """Nanoseconds each of fn(start), fn(start + 1), ... fn(start + n - 1) took."""
    samples = []
    for i in range(start, start + n):
        begin = time.perf_counter_ns()
        fn(i)
        samples.append(time.perf_counter_ns() - begin)
    return samples


def bench_recording(workdir: Path, n: int) -> dict[str, list[int]]:
    store = SqliteStore(workdir / "record.db")
    names = [f"job{j:03d}" for j in range(10)]
    store.save_job_states([JobState(name=name, first_seen=T0) for name in names])
    runner = store.register_runner("bench", 1, T0)

    def claim_finish(i: int) -> int:
        at = T0 + timedelta(seconds=i)
        run_id = store.claim_run(
            job=names[i % len(names)],
            scheduled_at=at,
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=at,
            host="bench",
            runner_id=runner,
            log_path=f"/tmp/logs/{i}.log",
        )
        assert run_id is not None
        store.finish_run(
            run_id,
            Finish(Status.SUCCEEDED, at + timedelta(seconds=1), exit_code=0, output_tail="ok"),
        )
        return run_id

    def in_bursts(op: Callable[[int], object], offset: int) -> tuple[list[int], list[int]]:
        # The runner's shape: a burst of due jobs, then idle time in which it calls maintain().
        samples: list[int] = []
        maintain: list[int] = []
        store.maintain()  # start from a checkpointed WAL, not the previous phase's
        for first in range(0, n, BURST):
            samples += timed(min(BURST, n - first), op, start=offset + first)
            start = time.perf_counter_ns()
            store.maintain()
            maintain.append(time.perf_counter_ns() - start)
        return samples, maintain

    def claim_finish_prune(i: int) -> None:
        claim_finish(i)
        store.prune(names[i % len(names)], keep_runs=100, older_than=T0 - timedelta(days=1))

    results = {"claim_run + finish_run, never idle": timed(n, claim_finish)}
    bursts, maintain = in_bursts(claim_finish, n)
    results[f"claim_run + finish_run, bursts of {BURST}"] = bursts
    bursts, _ = in_bursts(claim_finish_prune, 2 * n)
    results[f"claim + finish + prune(keep=100), bursts of {BURST}"] = bursts
    results[f"maintain() after a burst of {BURST}"] = maintain
    store.close()
    return results


def fill(path: Path, rows: int) -> None:
    store = SqliteStore(path)
    store.save_job_states([JobState(name=f"job{j:03d}", first_seen=T0) for j in range(JOBS)])
    rng = random.Random(1)
    base = to_us(T0)

    def generate() -> object:
        for i in range(rows):
            at = base + i * 1_000_000
            yield (
                f"job{i % JOBS:03d}",
                at,
                at,
                at,
                at + 500_000,
                rng.choice(FINISHED).value,
                0,
                1,
                Trigger.SCHEDULE.value,
                "bench",
                1,
                f"/var/lib/cronpy/logs/{i}.log",
            )

    with store.atomic() as db:
        db.executemany(
            "INSERT INTO runs (job, scheduled_at, created_at, started_at, ended_at, status,"
            " exit_code, attempt, trigger, host, runner_id, log_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            generate(),  # type: ignore[arg-type]
        )
        db.execute("UPDATE jobs SET last_run_id = (SELECT max(id) FROM runs WHERE job = jobs.name)")
    store.close()


def bench_history(workdir: Path, rows: int, n: int) -> dict[str, list[int]]:
    path = workdir / "history.db"
    start = time.perf_counter()
    fill(path, rows)
    print(f"filled {rows:,} runs across {JOBS} jobs in {time.perf_counter() - start:.1f} s")
    store = SqliteStore(path, readonly=True)
    rng = random.Random(2)
    since = T0 + timedelta(seconds=rows // 2)

    def job() -> str:
        return f"job{rng.randrange(JOBS):03d}"

    results = {
        "runs(job, limit=20)": timed(n, lambda _: store.runs(job(), limit=20)),
        "runs(job, status=failed)": timed(n, lambda _: store.runs(job(), status=Status.FAILED)),
        "runs(status=failed)": timed(n, lambda _: store.runs(status=Status.FAILED)),
        "runs(job, since=middle)": timed(n, lambda _: store.runs(job(), since=since)),
        "job_states() (100 jobs)": timed(n, lambda _: store.job_states()),
    }
    cold: list[int] = []
    for _ in range(20):  # a fresh connection each time, as a `cronpy history` process has
        begin = time.perf_counter_ns()
        fresh = SqliteStore(path, readonly=True)
        fresh.runs(job(), limit=20)
        fresh.close()
        cold.append(time.perf_counter_ns() - begin)
    results["open + runs(job, limit=20)"] = cold
    results["cold process: python + import + open + runs"] = cold_process(path)
    store.close()
    return results


COLD = """
import sys
from pathlib import Path
from cronpy.store.sqlite import SqliteStore
store = SqliteStore(Path(sys.argv[1]), readonly=True)
assert len(store.runs("job042", limit=20)) == 20
"""


def cold_process(path: Path, n: int = 10) -> list[int]:
    """What `cronpy history JOB` pays for the store, interpreter start-up included."""
    samples = []
    for _ in range(n):
        begin = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", COLD, str(path)], check=True)
        samples.append(time.perf_counter_ns() - begin)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="runs in the history DB")
    parser.add_argument("--records", type=int, default=5_000, help="runs recorded one by one")
    parser.add_argument("--queries", type=int, default=1_000, help="history queries timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = bench_recording(workdir, args.records)
        results.update(bench_history(workdir, args.rows, args.queries))
    width = max(map(len, results))
    print(f"{'operation':<{width}}  {'n':>6}  {'median ms':>9}  {'p99 ms':>8}  {'max ms':>8}")
    for name, samples in results.items():
        median, p99, worst = percentiles(samples)
        print(f"{name:<{width}}  {len(samples):>6}  {median:>9.3f}  {p99:>8.3f}  {worst:>8.3f}")


if __name__ == "__main__":
    main()
