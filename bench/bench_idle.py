"""The idle runner (DESIGN §10): CPU, wake-ups, memory, and no re-reading of the job file.

1. --jobs jobs (default 200) none of which is due for a year (``0 0 1 1 *``, 1 January, and the
   benchmark refuses to run within a day of it). Once the runner is ready and has settled, over
   --seconds (default 30) it measures from /proc: CPU (utime+stime, % of one core; target
   <= 0.1 %), context switches of all its threads (each is a wake-up; target ~0, no timer),
   bytes read (/proc/PID/io rchar) and opens/reads of the job file (inotify; must be 0).
   Then RSS (VmRSS, VmHWM; target <= 35 MiB).
2. The same with --big jobs (default 10,000): RSS (target <= 60 MiB) and the idle counters.
   Both sizes again with the runner started as ``run_runner()`` from ``python -c``: the
   difference is what the command line (typer and what it imports) adds to the runner.
3. Fire time: one job due every second among the --jobs; the job file must not be opened or
   read when it fires (DESIGN: "never a re-parse of the file at fire time").

4. --metrics: only the idle cost of ``--metrics`` with nobody scraping: the same runner with
   and without it, side by side, over --seconds (use 60): voluntary context switches of the
   main thread (/proc/PID/task/PID/status; the loop's wake-ups) and of all threads.

Usage: .venv/bin/python bench/bench_idle.py [--seconds 30] [--jobs 200] [--big 10000]
                                            [--fire-seconds 5] [--metrics]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _common import (
    CLK_TCK,
    FileWatch,
    ProcSample,
    RunnerProcess,
    metrics_args,
    print_table,
    proc_sample,
    proc_smaps_rollup,
    use_bytecode_cache,
    verdict,
    write_job_file,
)

NEVER_SOON = "0 0 1 1 *"  # midnight, 1 January
SETTLE_S = 2.0  # after ready: let the first idle maintenance (WAL checkpoint) happen
COMMAND = "true"


def idle_jobs(count: int) -> dict[str, dict[str, str]]:
    return {f"idle{i:05d}": {"schedule": NEVER_SOON, "command": COMMAND} for i in range(count)}


def measure_idle(jobs: int, seconds: float, *, direct: bool = False) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        work = Path(tmp)
        job_file = write_job_file(work / "jobs.toml", idle_jobs(jobs), defaults={"timezone": "UTC"})
        with RunnerProcess(job_file, work / "state", direct=direct) as runner:
            ready = runner.wait_ready()
            time.sleep(SETTLE_S)
            watch = FileWatch(job_file)
            before = proc_sample(runner.pid)
            time.sleep(seconds)
            after = proc_sample(runner.pid)
            opens, reads = watch.poll()
            watch.close()
            smaps = proc_smaps_rollup(runner.pid)
            events = len(runner.lines)
    entry = "run_runner()" if direct else "cronpy run"
    return {"entry": entry, **figures(jobs, ready, before, after, opens, reads, smaps, events)}


def figures(
    jobs: int,
    ready: float,
    before: ProcSample,
    after: ProcSample,
    opens: int,
    reads: int,
    smaps: dict[str, int],
    events: int,
) -> dict[str, str]:
    window = after.at - before.at
    cpu_pct = (after.cpu_ticks - before.cpu_ticks) / CLK_TCK / window * 100
    unreadable = after.rchar is None or before.rchar is None
    rchar = "n/a" if unreadable else str((after.rchar or 0) - (before.rchar or 0))
    return {
        "jobs": f"{jobs:,}",
        "window s": f"{window:.1f}",
        "ready s": f"{ready:.2f}",
        "CPU % core": f"{cpu_pct:.3f}",
        "wake-ups": str(
            (after.voluntary - before.voluntary) + (after.involuntary - before.involuntary)
        ),
        "bytes read": rchar,
        "file opens/reads": f"{opens}/{reads}",
        "threads": str(after.threads),
        "VmRSS MiB": f"{after.rss_kib / 1024:.1f}",
        "VmHWM MiB": f"{after.hwm_kib / 1024:.1f}",
        "Pss MiB": f"{smaps.get('Pss', 0) / 1024:.1f}" if smaps else "n/a",
        "log lines": str(events),
    }


def measure_fire(jobs: int, seconds: float) -> tuple[int, int, int]:
    """(starts, job file opens, job file reads) while one job fires each second."""
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        work = Path(tmp)
        table = idle_jobs(jobs - 1)
        table["every-second"] = {"schedule": "* * * * * *", "command": COMMAND}
        job_file = write_job_file(work / "jobs.toml", table, defaults={"timezone": "UTC"})
        with RunnerProcess(job_file, work / "state") as runner:
            runner.wait_ready()
            watch = FileWatch(job_file)
            starts = runner.count("start")
            time.sleep(seconds)
            opens, reads = watch.poll()
            watch.close()
            starts = runner.count("start") - starts
    return starts, opens, reads


def _switches(pid: int) -> tuple[int, int]:
    """Voluntary context switches of the main thread and of all threads."""

    def of(status: Path) -> int:
        for line in status.read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
        return 0

    tasks = list(Path(f"/proc/{pid}/task").iterdir())
    return of(Path(f"/proc/{pid}/task/{pid}/status")), sum(of(t / "status") for t in tasks)


def measure_metrics_idle(jobs: int, seconds: float) -> None:
    rows = []
    for extra in ((), metrics_args()):
        with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
            work = Path(tmp)
            table = idle_jobs(jobs)
            job_file = write_job_file(work / "jobs.toml", table, defaults={"timezone": "UTC"})
            with RunnerProcess(job_file, work / "state", extra=extra) as runner:
                runner.wait_ready()
                time.sleep(SETTLE_S)
                main0, all0 = _switches(runner.pid)
                cpu0 = proc_sample(runner.pid)
                time.sleep(seconds)
                main1, all1 = _switches(runner.pid)
                cpu1 = proc_sample(runner.pid)
        rows.append(
            [
                "--metrics" if extra else "without",
                f"{seconds:g}",
                str(main1 - main0),
                str(all1 - all0),
                str(cpu1.threads),
                f"{(cpu1.cpu_ticks - cpu0.cpu_ticks) / CLK_TCK * 1000:.0f}",
            ]
        )
    print_table(
        f"idle runner, {jobs} jobs, nobody scraping",
        ["runner", "window s", "main thread wake-ups", "all threads", "threads", "CPU ms"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="idle window (default 30)")
    parser.add_argument("--jobs", type=int, default=200, help="jobs configured (default 200)")
    parser.add_argument("--big", type=int, default=10_000, help="the large job file (10,000)")
    parser.add_argument(
        "--big-seconds", type=float, default=10, help="idle window of the large file (default 10)"
    )
    parser.add_argument(
        "--fire-seconds",
        type=float,
        default=5,
        help="how long one job fires each second (default 5)",
    )
    parser.add_argument(
        "--metrics", action="store_true", help="only: idle wake-ups with and without --metrics"
    )
    args = parser.parse_args()
    use_bytecode_cache()
    if args.metrics:
        measure_metrics_idle(args.jobs, args.seconds)
        return
    today = datetime.now()
    if (today.month, today.day) in ((12, 31), (1, 1)):
        sys.exit("the idle jobs fire on 1 January: run this on another day")

    small = measure_idle(args.jobs, args.seconds)
    big = measure_idle(args.big, args.big_seconds)
    # the same runner started without the command line: what typer & co. add to its memory
    bare = [
        measure_idle(args.jobs, args.big_seconds, direct=True),
        measure_idle(args.big, args.big_seconds, direct=True),
    ]
    headers = list(small)
    print_table(
        "idle runner (after ready + settle)",
        headers,
        [[r[h] for h in headers] for r in (small, big, *bare)],
    )
    print(
        f"CPU with {small['jobs']} jobs: {small['CPU % core']} % of a core, target <= 0.1 %:"
        f" {verdict(float(small['CPU % core']), 0.1)}"
    )
    print(
        f"wake-ups with {small['jobs']} jobs over {small['window s']} s: {small['wake-ups']}"
        " (a timer would show one per tick)"
    )
    print(
        f"RSS with {small['jobs']} jobs: {small['VmHWM MiB']} MiB peak, target <= 35 MiB:"
        f" {verdict(float(small['VmHWM MiB']), 35)}"
    )
    print(
        f"RSS with {big['jobs']} jobs: {big['VmHWM MiB']} MiB peak, target <= 60 MiB:"
        f" {verdict(float(big['VmHWM MiB']), 60)}"
    )
    extra = float(small["VmHWM MiB"]) - float(bare[0]["VmHWM MiB"])
    print(f"`cronpy run` vs run_runner() alone: {extra:+.1f} MiB (the command line's imports)")

    starts, opens, reads = measure_fire(args.jobs, args.fire_seconds)
    print_table(
        "fire time: one job due every second",
        ["starts", "job file opens", "reads"],
        [[str(starts), str(opens), str(reads)]],
    )
    print("job file re-read at fire time:", "no" if opens == reads == 0 else "YES")


if __name__ == "__main__":
    main()
