"""10,000 jobs: file load and first planning (DESIGN §10, target <= 1 s).

The job file mixes 5-field cron expressions with random fields (lists, ranges, steps, names),
6-field ones (seconds first), ``every Ns/m/h`` intervals and ``H`` expressions, over a few
timezones. Measured, as the median over --reps repetitions:

- the runner as a process: from spawning ``cronpy run`` to its ``ready`` line, with a fresh
  state directory (every job new to the store) and again on the state it left (a restart);
- in a fresh interpreter per repetition (so no parse cache is warm): importing the runner's
  modules, ``load_job_file`` (and, apart, how much of it ``tomllib.loads`` alone takes),
  opening the store, ``Scheduler.start()`` and the first ``tick()`` + ``next_wakeup()``, with a
  launcher that starts nothing. Load + start + first tick is the
  figure the target is about.

Then the scale series (DESIGN §10: 100,000 jobs load and plan in <= 5 s with RSS <= 250 MiB,
and the cost grows linearly): for 1,000, 10,000 and 100,000 jobs written ``H H * * *``,
``cronpy run`` from spawn to ``ready`` (fresh state, then a restart on it), its VmRSS and
VmHWM once ready, and its context switches over --idle seconds after that (0: no wake-ups).

Usage: .venv/bin/python bench/bench_load.py [--jobs 10000] [--reps 3] [--seed 1] [--profile]
       [--scale 1000,10000,100000] [--idle 5] [--scale-reps 1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    RunnerProcess,
    print_table,
    proc_sample,
    use_bytecode_cache,
    verdict,
    write_job_file,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
DOWS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "sat,sun", "*", "*", "*"]


def cron_field(rng: random.Random, low: int, high: int) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return "*"
    if kind == 1:
        return f"*/{rng.choice([2, 3, 5, 10, 15])}" if high >= 15 else "*"
    if kind == 2:
        a = rng.randint(low, high - 1)
        return f"{a}-{rng.randint(a + 1, high)}"
    if kind == 3:
        return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), 3)))
    return str(rng.randint(low, high))


def random_schedule(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind < 4:  # 5-field cron
        return " ".join(
            [
                cron_field(rng, 0, 59),
                cron_field(rng, 0, 23),
                rng.choice(["*", "*", "1", "1-15"]),
                rng.choice(["*", "*", "*", "1-6", "jan,jul"]),
                rng.choice(DOWS),
            ]
        )
    if kind < 6:  # seconds first
        return " ".join(
            [
                str(rng.randint(0, 59)),
                cron_field(rng, 0, 59),
                cron_field(rng, 0, 23),
                "*",
                "*",
                rng.choice(DOWS),
            ]
        )
    if kind < 8:
        unit, top = rng.choice([("s", 3600), ("m", 600), ("h", 48)])
        return f"every {rng.randint(30 if unit == 's' else 1, top)}{unit}"
    return rng.choice(
        [
            "H H * * *",
            "H H/4 * * *",
            "H/15 * * * *",
            "H 3 * * mon-fri",
            "H H H * *",
            "H(0-29) 2 * * *",
        ]
    )


def job_table(count: int, seed: int) -> dict[str, dict[str, str]]:
    rng = random.Random(seed)
    return {
        f"job-{i:05d}": {
            "schedule": random_schedule(rng),
            "command": f"echo {i}",
            "timezone": rng.choice(ZONES),
        }
        for i in range(count)
    }


# -- in a fresh interpreter ----------------------------------------------------------------------
WORKER = r"""
import json, sys, time
t0 = time.perf_counter()
from datetime import datetime
from pathlib import Path
from cronpy.runtime.clock import SystemClock
from cronpy.config import load_job_file
from cronpy.runtime.scheduler import Scheduler
from cronpy.store.sqlite import SqliteStore
t1 = time.perf_counter()

class NoLauncher:
    "Starts nothing: a due job gets a fake pid, and no run ever ends."
    running = {}
    def start(self, req): return 99999
    def stop(self, run_id, reason, grace=None): pass
    def drain(self): return []
    def stop_all(self, reason, grace): pass

job_file, state = Path(sys.argv[1]), Path(sys.argv[2])
state.mkdir(exist_ok=True)
import tomllib
tt = time.perf_counter()
tomllib.loads(job_file.read_text())  # the TOML parse alone, to split "load" in two
toml = time.perf_counter() - tt
profile = len(sys.argv) > 3
if profile:
    import cProfile, pstats
    prof = cProfile.Profile(); prof.enable()
t2 = time.perf_counter()
c2 = time.process_time()
jobs = load_job_file(job_file)
import gc; gc.freeze()  # as cronpy run does after loading
t3 = time.perf_counter()
clock = SystemClock()
store = SqliteStore(state / "state.db")
runner_id = store.register_runner("bench", 1, clock.now())
t4 = time.perf_counter()
core = Scheduler(jobs, store, NoLauncher(), clock, runner_id=runner_id, host="bench",
            logs_dir=state / "logs")
core.start()
t5 = time.perf_counter()
core.tick()
wake = core.next_wakeup()
t6 = time.perf_counter()
cpu = time.process_time() - c2
if profile:
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(15)
print(json.dumps({"import": t1 - t0, "toml": toml, "load": t3 - t2, "store": t4 - t3,
                  "start": t5 - t4, "tick": t6 - t5, "cpu": cpu, "jobs": len(jobs.jobs),
                  "next": str(wake)}))
"""


def in_process(job_file: Path, state: Path, profile: bool) -> dict[str, float]:
    argv = [sys.executable, "-c", WORKER, str(job_file), str(state)] + (["p"] if profile else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"in-process worker failed:\n{done.stderr}")
    if profile:
        print("\ncProfile of load + store + start + first tick (cumulative, then self):")
        print("\n".join(line for line in done.stderr.splitlines() if line.strip())[:8000])
    result: dict[str, float] = json.loads(done.stdout)
    return result


def scale_series(work: Path, sizes: list[int], idle: float, reps: int) -> None:
    """``cronpy run`` with N jobs ``H H * * *``: time to ready, memory, idle wake-ups; the
    median of ``reps`` runs, each on a new state directory (fresh) and then on it (restart)."""
    rows = []
    per_job: list[tuple[int, float, float]] = []
    for n in sizes:
        jobs = {f"job-{i:06d}": {"schedule": "H H * * *", "command": f"echo {i}"} for i in range(n)}
        job_file = write_job_file(work / f"scale-{n}.toml", jobs)
        seen: dict[str, list[tuple[float, float, float, int]]] = {"fresh": [], "restart": []}
        for rep in range(reps):
            state = work / f"scale-{n}-{rep}"
            for label in ("fresh", "restart"):
                with RunnerProcess(job_file, state) as runner:
                    ready = runner.wait_ready(timeout=300)
                    first = proc_sample(runner.pid)
                    time.sleep(idle)
                    last = proc_sample(runner.pid)
                switches = (last.voluntary + last.involuntary) - (
                    first.voluntary + first.involuntary
                )
                seen[label].append((ready, last.rss_kib / 1024, last.hwm_kib / 1024, switches))
        for label, samples in seen.items():
            ready, rss, hwm = (statistics.median(s[i] for s in samples) for i in range(3))
            rows.append(
                [
                    f"{n:,}",
                    label,
                    f"{ready:.2f}",
                    f"{rss:.1f}",
                    f"{hwm:.1f}",
                    " / ".join(str(s[3]) for s in samples),
                ]
            )
            if label == "fresh":
                per_job.append((n, ready, rss))
    print_table(
        f"`cronpy run`, N jobs `H H * * *`: spawn to ready, memory (medians of {reps}),"
        f" wake-ups in {idle:g} s idle (each run)",
        ["jobs", "state", "ready s", "RSS MiB", "HWM MiB", "ctx switches"],
        rows,
    )
    if len(per_job) > 1:
        base_n, base_t, base_m = per_job[0]
        print_table(
            f"growth against {base_n:,} jobs (linear: the time and the memory above the"
            " first row grow as the jobs do)",
            ["jobs", "x jobs", "x ready time", "ms per job", "KiB per job above the first"],
            [
                [
                    f"{n:,}",
                    f"{n / base_n:g}",
                    f"{t / base_t:.1f}",
                    f"{t / n * 1000:.3f}",
                    "-" if n == base_n else f"{(m - base_m) * 1024 / (n - base_n):.2f}",
                ]
                for n, t, m in per_job
            ],
        )
    biggest = per_job[-1]
    if biggest[0] >= 100_000:
        print(
            f"{biggest[0]:,} jobs: ready in {biggest[1]:.2f} s (target <= 5 s: "
            f"{verdict(biggest[1], 5)}), RSS {biggest[2]:.1f} MiB (target <= 250 MiB: "
            f"{verdict(biggest[2], 250)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the file (10,000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="random schedules' seed")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of one in-process load + start"
    )
    parser.add_argument(
        "--scale",
        default="1000,10000,100000",
        help="job counts for the `H H * * *` series ('' to skip)",
    )
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds measured (5)")
    parser.add_argument(
        "--scale-reps", type=int, default=1, help="runs of each size in the series (median; 1)"
    )
    args = parser.parse_args()
    use_bytecode_cache()

    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        work = Path(tmp)
        job_file = write_job_file(work / "jobs.toml", job_table(args.jobs, args.seed))
        size = job_file.stat().st_size
        stages: dict[str, list[float]] = {}
        for rep in range(args.reps):
            result = in_process(job_file, work / f"inproc{rep}", profile=False)
            for key in ("import", "load", "store", "start", "tick"):
                stages.setdefault(key, []).append(result[key])
            stages.setdefault("  of load: tomllib.loads", []).append(result["toml"])
            stages.setdefault("load+start+tick", []).append(
                result["load"] + result["store"] + result["start"] + result["tick"]
            )
            # CPU time: what a busy machine's other processes do not add to
            stages.setdefault("load+start+tick, CPU time", []).append(result["cpu"])
        cold: list[float] = []
        warm: list[float] = []
        for rep in range(args.reps):
            state = work / f"state{rep}"
            for into in (cold, warm):  # fresh state, then a restart on the state it left
                with RunnerProcess(job_file, state) as runner:
                    into.append(runner.wait_ready())
        if args.profile:
            in_process(job_file, work / "profiled", profile=True)

    print(f"\n{args.jobs:,} jobs, job file {size / 1024:.0f} KiB, {args.reps} repetitions")
    rows = [
        [name, f"{statistics.median(v) * 1000:.0f}", f"{min(v) * 1000:.0f}", f"{max(v) * 1000:.0f}"]
        for name, v in stages.items()
    ]
    print_table(
        "in a fresh interpreter, by stage", ["stage", "median ms", "min ms", "max ms"], rows
    )
    total = statistics.median(stages["load+start+tick"])
    print(
        f"load + first planning: {total * 1000:.0f} ms, target <= 1000 ms:"
        f" {verdict(total * 1000, 1000)}"
    )
    rows = [
        [name, f"{statistics.median(v) * 1000:.0f}", f"{min(v) * 1000:.0f}", f"{max(v) * 1000:.0f}"]
        for name, v in (("fresh state", cold), ("restart (state exists)", warm))
    ]
    print_table(
        "`cronpy run`: process spawn to `ready` line",
        ["state", "median ms", "min ms", "max ms"],
        rows,
    )
    sizes = [int(n) for n in args.scale.split(",") if n.strip()]
    if sizes:
        with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
            scale_series(Path(tmp), sizes, args.idle, args.scale_reps)


if __name__ == "__main__":
    main()
